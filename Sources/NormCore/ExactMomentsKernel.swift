/// The exact per-feature moments a sync group's member contributes for one stage — count `n`, mean
/// `μ` and `M2 = Σ(x − μ)²`, and the extremes when asked — in **one** sweep over the rows, all in
/// Float64 (Docs/SYNC.md, "Cost and scaling").
///
/// Why not `ColumnMoments.exact`: that is two full sweeps (the mean, then the squares about it) and
/// then a third for the extremes; in a sync group every stage of every step pays it on the pipeline
/// thread, inside the step's barrier. Here the rows are cut into blocks of `blockRows`; each block is
/// measured about its own first row and folded into the running moments with Chan's merge, in row
/// order (so the result is the same bits wherever it runs):
///
/// ```
/// block of b rows, c = its first row, K = the batch's first row (both exact Float32 values):
///   d = x − c (Float64),  s = Σd,  q = Σd²
///   μ_b − K = (c − K) + s/b,  M2_b = q − s²/b                         (about c: see below)
/// running (n, m = μ − K, M2) merged with the block (Chan, Golub & LeVeque):
///   δ = (μ_b − K) − m,  m += δ·b/(n + b),  M2 += M2_b + δ²·n·b/(n + b),  n += b
/// μ = K + m
/// ```
///
/// Why it stays exact: `c` is one of the block's own values, so `(μ_b − c)² ≤ M2_b` and the
/// correction `s²/b` cancels at most a factor `1 + b` of `q` — a relative error of a few `b²·ε`
/// (`ε = 2⁻⁵³`; ~1e-13 for `b = 32`) whatever the offset or the order of the rows, where a shift taken
/// once for the whole batch (its first row) could be ~`n` standard deviations off. The merge adds
/// only non-negative terms; keeping the means relative to `K`, a value of the batch, keeps `δ` free of
/// the rounding of a large offset (a feature around 1e4 with a spread of 1e-3). `d` itself is exact:
/// the difference of two Float32 values fits a Float64 unless their exponents are 29 binades apart.
/// A constant column gives `d = 0`: mean exactly its value, `M2 = 0`.
///
/// Cost per value: one conversion, one subtraction, two additions and a multiplication in Float64,
/// which the compiler vectorizes (2 lanes of SSE2: packed `cvtps2pd`, `subpd`, `mulpd`, `addpd` in
/// `objdump -d`), four rows per sweep so each accumulator is loaded and stored once per four values
/// (16 µs instead of 23 µs for 256 × 128 values with one row per sweep, profiled in the release
/// build; 39 µs for `ColumnMoments.exact`); the merge is `O(features)` per block; the extremes
/// are a separate Float32 sweep (4 lanes, exact: they are input values). Scratch lives on the stack:
/// nothing is allocated but the results.
public enum ExactMomentsKernel {
    /// Rows per block: the error bound grows as `blockRows²`, the merge's share of the work as `1/blockRows`.
    public static let blockRows = 32

    /// Exact moments of every row of `batch`.
    public struct Result: Sendable, Equatable {
        public var count: Int
        public var mean: [Double]
        /// `Σ(x − μ)²` per feature (the biased variance is `m2 / count`).
        public var m2: [Double]
        /// The extremes, when asked for (else empty).
        public var minimum: [Double]
        public var maximum: [Double]
    }

    /// Measures every row of `batch`; `extremes` adds the per-feature minimum and maximum.
    /// - Precondition: `batch.rows > 0`.
    public static func measure(_ batch: FeatureBatch, extremes: Bool) -> Result {
        let features = batch.features, n = batch.rows
        precondition(n > 0, "moments of zero rows are undefined")
        var mean = [Double](repeating: 0, count: features)
        var m2 = [Double](repeating: 0, count: features)
        var minimum: [Double] = [], maximum: [Double] = []
        batch.withUnsafeValues { values in
            let base = values.baseAddress!
            mean.withUnsafeMutableBufferPointer { mean in
                m2.withUnsafeMutableBufferPointer { m2 in
                    sweep(base, rows: n, features: features, mean: mean.baseAddress!, m2: m2.baseAddress!)
                }
            }
            if extremes {
                minimum = [Double](repeating: 0, count: features)
                maximum = [Double](repeating: 0, count: features)
                minimum.withUnsafeMutableBufferPointer { low in
                    maximum.withUnsafeMutableBufferPointer { high in
                        extremesSweep(base, rows: n, features: features, minimum: low.baseAddress!, maximum: high.baseAddress!)
                    }
                }
            }
        }
        return Result(count: n, mean: mean, m2: m2, minimum: minimum, maximum: maximum)
    }

    /// The blocked sweep described at the type: writes `mean` and `M2`.
    private static func sweep(
        _ base: UnsafePointer<Float>, rows n: Int, features: Int, mean: UnsafeMutablePointer<Double>, m2: UnsafeMutablePointer<Double>
    ) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * features) { scratch in
            let sums = scratch.baseAddress!, squares = sums + features, shift = squares + features
            // `mean` holds m = μ − K until the end; `m2` the running M2.
            let reference = base
            var merged = 0
            var blockStart = 0
            while blockStart < n {
                let blockEnd = min(blockStart + blockRows, n)
                let first = base + blockStart * features
                for f in 0..<features { shift[f] = Double(first[f]) }
                sums.update(repeating: 0, count: features)
                squares.update(repeating: 0, count: features)
                // The block's first row is its shift (d = 0). Four rows per sweep over the features,
                // so each accumulator is loaded and stored once per four values, then single rows.
                var row = blockStart + 1
                while row + 4 <= blockEnd {
                    let x0 = base + row * features, x1 = x0 + features, x2 = x1 + features, x3 = x2 + features
                    for f in 0..<features {
                        let c = shift[f]
                        let d0 = Double(x0[f]) - c, d1 = Double(x1[f]) - c, d2 = Double(x2[f]) - c, d3 = Double(x3[f]) - c
                        sums[f] += (d0 + d1) + (d2 + d3)
                        squares[f] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)
                    }
                    row += 4
                }
                while row < blockEnd {
                    let x = base + row * features
                    for f in 0..<features {
                        let d = Double(x[f]) - shift[f]
                        sums[f] += d
                        squares[f] += d * d
                    }
                    row += 1
                }
                let b = Double(blockEnd - blockStart)
                let inverse = 1 / b
                if merged == 0 {
                    for f in 0..<features {
                        let s = sums[f]
                        mean[f] = (shift[f] - Double(reference[f])) + s * inverse
                        m2[f] = max(0, squares[f] - s * s * inverse)
                    }
                } else {
                    let total = Double(merged) + b
                    let weight = b / total, cross = Double(merged) * b / total
                    for f in 0..<features {
                        let s = sums[f]
                        let blockMean = (shift[f] - Double(reference[f])) + s * inverse
                        let blockM2 = max(0, squares[f] - s * s * inverse)
                        let delta = blockMean - mean[f]
                        mean[f] += delta * weight
                        m2[f] += blockM2 + delta * delta * cross
                    }
                }
                merged += blockEnd - blockStart
                blockStart = blockEnd
            }
            for f in 0..<features { mean[f] += Double(reference[f]) }
        }
    }

    /// Per-feature minimum and maximum, in Float32 over the rows (exact: they are input values).
    private static func extremesSweep(
        _ base: UnsafePointer<Float>, rows n: Int, features: Int, minimum: UnsafeMutablePointer<Double>, maximum: UnsafeMutablePointer<Double>
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * features) { scratch in
            let low = scratch.baseAddress!, high = low + features
            low.update(from: base, count: features)
            high.update(from: base, count: features)
            for row in 1..<max(1, n) {
                let x = base + row * features
                for f in 0..<features {
                    let value = x[f]
                    low[f] = value < low[f] ? value : low[f]
                    high[f] = value > high[f] ? value : high[f]
                }
            }
            for f in 0..<features {
                minimum[f] = Double(low[f])
                maximum[f] = Double(high[f])
            }
        }
    }
}
