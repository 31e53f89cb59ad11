import BatchNorm
import BatchRenorm
import MinMax
import NormCore
import StageKit
import Testing

/// The per-batch coefficient and running-statistics loops the stages run over raw pointers
/// (`BatchNormKernel.setCoefficients`, `FittedExtremes.centered`, the moving averages) against the
/// per-feature forms they replaced, written out here as the reference (`CenteredAffine.setAll` with
/// the formula as a closure, array loops): the same bits for every output value and statistic, over a
/// width that runs every chunk path (37 = 32 + 4 + 1), values far from and near zero, a zero γ, a
/// negative γ, a −0 β, a zero and a tiny variance, and a constant column.
@Suite struct CoefficientBitsTests {
    static let features = 37, rows = 24

    static func batch(seed: UInt64) -> FeatureBatch {
        var state = seed
        var values: [Float] = []
        for index in 0..<(rows * features) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let uniform = Float(state >> 40) / Float(1 << 24) - 0.5
            let column = index % features
            values.append(column == 5 ? 7 : column % 3 == 0 ? 1e4 + 6 * uniform : 2 * uniform)
        }
        return FeatureBatch(rows: rows, features: features, values: values)
    }

    static func perFeature(_ value: (Int) -> Double) -> [Double] { (0..<features).map(value) }
    static let gamma = perFeature { f in f == 3 ? 0 : f % 4 == 1 ? -1.5 : 0.5 + 0.1 * Double(f) }
    static let beta = perFeature { f in f % 5 == 0 ? -0.0 : f % 2 == 0 ? 0.25 : -3 }
    static let mean = perFeature { f in f % 3 == 0 ? 1e4 + 0.37 * Double(f) : -0.01 * Double(f) }
    static let variance = perFeature { f in f == 7 ? 0 : f == 8 ? 1e-12 : 0.3 + 2.5 * Double(f) }
    static let epsilon = 1e-3

    static func bits(_ batch: FeatureBatch) -> [UInt32] { batch.values.map(\.bitPattern) }

    /// The coefficients as `setCoefficients` computed them through `setAll` before, applied.
    static func reference(_ input: FeatureBatch, r: [Double]?, d: [Double]?) -> [UInt32] {
        var affine = CenteredAffine(featureCount: features)
        affine.setAll { f in
            let correction = r?[f] ?? 1
            let offset = (d?[f] ?? 0) * gamma[f] + beta[f]
            return (mean[f], gamma[f] * correction / (variance[f] + epsilon).squareRoot(), offset)
        }
        var output = input
        AffineTransform.apply(to: &output, affine)
        return bits(output)
    }

    @Test(
        "BatchNormKernel's coefficients: the per-feature closure's bits, with and without renorm's r, d and σ_B",
        arguments: [(false, false, false), (true, true, false), (true, true, true), (true, false, false), (false, true, false)])
    func batchNormCoefficients(withR: Bool, withD: Bool, withStddev: Bool) {
        let r = withR ? Self.perFeature { f in f % 2 == 0 ? 0.5 + 0.03 * Double(f) : 1.5 } : nil
        let d = withD ? Self.perFeature { f in f % 3 == 0 ? -0.5 : 0.02 * Double(f) } : nil
        let stddev = withStddev ? Self.perFeature { f in (Self.variance[f] + Self.epsilon).squareRoot() } : nil
        var kernel = BatchNormKernel(featureCount: Self.features, gamma: Self.gamma, beta: Self.beta, epsilon: Self.epsilon)
        let input = Self.batch(seed: 3)
        let moments = BatchMoments(combined: ColumnMoments(count: Self.rows, mean: Self.mean, variance: Self.variance))
        var train = input
        kernel.normalize(&train, with: moments, r: r, d: d, combinedStddev: stddev)
        #expect(Self.bits(train) == Self.reference(input, r: r, d: d))
        if !withR && !withD {
            var infer = input
            kernel.normalize(&infer, mean: Self.mean, variance: Self.variance)
            #expect(Self.bits(infer) == Self.reference(input, r: nil, d: nil))
        }
    }

    @Test("moving averages over raw pointers: the array loops' bits")
    func movingAverages() {
        let value = Self.perFeature { f in f % 2 == 0 ? 1e4 + Double(f) : -0.3 * Double(f) }
        var moving = Self.mean, expected = Self.mean
        BatchNormKernel.assignMovingAverage(&moving, toward: value, momentum: 0.99)
        for f in expected.indices { expected[f] -= (expected[f] - value[f]) * (1 - 0.99) }
        #expect(moving.map(\.bitPattern) == expected.map(\.bitPattern))
        var running = Self.variance, expectedRunning = Self.variance
        BatchNormKernel.updateRunningAverage(&running, toward: value, weight: 0.1)
        for f in expectedRunning.indices { expectedRunning[f] = (1 - 0.1) * expectedRunning[f] + 0.1 * value[f] }
        #expect(running.map(\.bitPattern) == expectedRunning.map(\.bitPattern))
    }

    @Test("min_max's coefficients: the per-feature closure's bits (two train batches, a constant column)")
    func minMaxCoefficients() throws {
        let range = MinMaxRange(low: -1, high: 2)
        let stage = MinMaxStage(featureCount: Self.features, range: range)
        var low = [Double](repeating: .infinity, count: Self.features), high = low.map { -$0 }
        for seed: UInt64 in [11, 12] {
            let input = Self.batch(seed: seed)
            for row in 0..<Self.rows {
                for f in 0..<Self.features {
                    low[f] = min(low[f], Double(input[row, f]))
                    high[f] = max(high[f], Double(input[row, f]))
                }
            }
            var affine = CenteredAffine(featureCount: Self.features)
            affine.setAll { f in
                let width = high[f] - low[f]
                return (low[f], (range.high - range.low) / (width < MinMaxStage.zeroRangeThreshold ? 1 : width), range.low)
            }
            var expected = input, output = input
            AffineTransform.apply(to: &expected, affine)
            try stage.process(&output, mode: .train)
            #expect(Self.bits(output) == Self.bits(expected), "batch seeded \(seed)")
        }
    }

    @Test("StandardDeviationKernel: √(σ² + ε) with Swift's bits, every width (the odd feature's scalar tail)")
    func standardDeviations() {
        var stddev: [Double] = []
        for count in [0, 1, 2, 3, 37, 128] {
            let kinds: [Double] = [0, 1e-300, 1e300, 0.1]
            var variance: [Double] = []
            for f in 0..<count { variance.append(f % 4 == 3 ? kinds[3] * Double(f) : kinds[f % 4]) }
            StandardDeviationKernel.compute(variance, epsilon: 1e-3, into: &stddev)
            #expect(stddev.map(\.bitPattern) == variance.map { ($0 + 1e-3).squareRoot().bitPattern }, "\(count) features")
        }
        StandardDeviationKernel.compute([.nan, .infinity], epsilon: 1e-3, into: &stddev)
        #expect(stddev[0].isNaN && stddev[1] == .infinity)
    }

    @Test("renorm's corrections take a missing clipping bound as ±∞: the same value as not clamping, for every input")
    func missingBoundIsInfinite() {
        let inputs: [Double] = [.nan, .infinity, -.infinity, 0, -0.0, 1, -1, 1e308, .leastNonzeroMagnitude]
        let partial = RenormClipping(rmax: 2, rmin: nil, dmax: nil)
        for x in inputs {
            #expect(RenormClipping.none.clampR(x).bitPattern == min(max(x, -.infinity), .infinity).bitPattern, "r \(x)")
            #expect(RenormClipping.none.clampD(x).bitPattern == min(max(x, -.infinity), .infinity).bitPattern, "d \(x)")
            #expect(partial.clampR(x).bitPattern == min(max(x, -.infinity), 2).bitPattern, "r \(x), rmax only")
        }
    }
}
