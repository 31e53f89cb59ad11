import Foundation
import NormCore
import Testing

/// The row-blocked, register-resident kernels (`AffineMomentsKernel`, `AffineTransform.apply`,
/// `ColumnExtremesKernel`) against the row-by-row sweeps they replaced, written out here as the
/// reference: the same bits for every output value, every moment and every extreme, over widths
/// around the chunk sizes (the AVX2 kernels' 32- and 16-feature chunks, 8 and 4 lanes, the
/// one-at-a-time tail: 24 = 16 + 8, 25 = 16 + 8 + 1, 40 = 32 + 8), row counts around the 16-row
/// blocks, clamped and not, strided row selections, and inputs holding ±0, NaN, ±∞, huge and tiny
/// values and a large offset with a small spread — on every `KernelPath` this CPU runs (the Swift
/// SSE loops and, with AVX2, the C kernels), so both paths are checked against the same reference.
@Suite("Chunked kernels, bit for bit")
struct ChunkedKernelBitsTests {
    static let widths = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20, 24, 25, 31, 33, 40, 128, 131]
    static let rowCounts = [1, 2, 15, 16, 17, 37, 256]

    /// Deterministic values: mostly around 1e4 with a spread of a few units (the case the centered
    /// form exists for), with special values sprinkled in when `special` is set.
    static func batch(rows: Int, features: Int, special: Bool, seed: UInt64 = 1) -> FeatureBatch {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(rows * 1000 + features)
        let specials: [Float] = [0, -0, .nan, .infinity, -.infinity, 3e38, -1e-40, 1e30]
        var values: [Float] = []
        for index in 0..<(rows * features) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let uniform = Float(state >> 40) / Float(1 << 24) - 0.5
            if special && state >> 60 == 0 {
                values.append(specials[Int(state >> 20) % specials.count])
            } else {
                values.append(index % 3 == 0 ? 1e4 + 6 * uniform : 2 * uniform)
            }
        }
        return FeatureBatch(rows: rows, features: features, values: values)
    }

    static func affine(features: Int) -> CenteredAffine {
        var affine = CenteredAffine(featureCount: features)
        for f in 0..<features {
            affine.set(f, center: f % 3 == 0 ? 1e4 + 0.3 : -0.1, scale: 0.5 + 0.01 * Double(f), offset: f % 2 == 0 ? 0.25 : -0.5)
        }
        return affine
    }

    /// The row sweep `AffineMomentsKernel` had before the chunked loops: every feature of a row,
    /// then the next row; the partial sums in two arrays, folded every 16 rows.
    static func referenceFused(
        _ batch: inout FeatureBatch, _ t: CenteredAffine, clamp: (low: Float, high: Float)?, shift k: [Float]
    ) -> (sums: [Double], squares: [Double]) {
        let features = batch.features, n = batch.rows
        var sums = [Double](repeating: 0, count: features), squares = sums
        var partial = [Float](repeating: 0, count: features), partialSquares = partial
        var blockStart = 0
        while blockStart < n {
            let blockEnd = min(blockStart + ColumnMoments.blockRows, n)
            for f in 0..<features { partial[f] = 0; partialSquares[f] = 0 }
            for row in blockStart..<blockEnd {
                for f in 0..<features {
                    var y = (batch[row, f] - t.center[f]) * t.scale[f] + t.offset[f]
                    if let clamp { y = min(max(y, clamp.low), clamp.high) }
                    batch[row, f] = y
                    let d = y - k[f]
                    partial[f] += d
                    partialSquares[f] += d * d
                }
            }
            for f in 0..<features {
                sums[f] += Double(partial[f])
                squares[f] += Double(partialSquares[f])
            }
            blockStart = blockEnd
        }
        return (sums, squares)
    }

    static func bits(_ batch: FeatureBatch) -> [UInt32] { batch.values.map(\.bitPattern) }

    @Test("AffineMomentsKernel: outputs and moments equal the row sweep's, bit for bit", arguments: [false, true])
    func fusedKernel(clamped: Bool) {
        let clamp: (low: Float, high: Float)? = clamped ? (low: -0.75, high: 1.5) : nil
        for features in Self.widths {
            for rows in Self.rowCounts {
                for special in [false, true] {
                    let input = Self.batch(rows: rows, features: features, special: special)
                    let t = Self.affine(features: features)
                    // A shift at each (unclamped) output's mean, so that the moments are usable where finite.
                    var probe = input
                    AffineTransform.apply(to: &probe, t)
                    let shift = (0..<features).map { f in
                        let mean = (0..<rows).reduce(0.0) { $0 + Double(probe[$1, f]) } / Double(rows)
                        return mean.isFinite ? Float(mean) : 0
                    }
                    var reference = input
                    let sums = Self.referenceFused(&reference, t, clamp: clamp, shift: shift)
                    for path in KernelPath.available {
                        var chunked = input, storage = ColumnMoments(count: 0, mean: [], variance: [])
                        let result = AffineMomentsKernel.apply(
                            to: &chunked, t, clamp: clamp, momentsAbout: shift, reusing: &storage, path: path)
                        let label = "\(rows) x \(features), special \(special), \(path)"
                        #expect(Self.bits(chunked) == Self.bits(reference), "outputs, \(label)")
                        // The finish is shared code; the sums decide everything it computes.
                        let finite = sums.sums.allSatisfy(\.isFinite) && sums.squares.allSatisfy(\.isFinite)
                        #expect(result.outputFinite == finite, "outputFinite, \(label)")
                        if let moments = result.moments {
                            let expected = ColumnMoments(of: reference, nearMean: shift)
                            #expect(moments.mean.map(\.bitPattern) == expected.mean.map(\.bitPattern), "mean, \(label)")
                            #expect(moments.variance.map(\.bitPattern) == expected.variance.map(\.bitPattern), "variance, \(label)")
                        }
                        if !special && !clamped { // (clamping moves the mean away from the shift)
                            #expect(result.moments != nil, "usable moments on ordinary data, \(label)")
                        }
                    }
                }
            }
        }
    }

    @Test("AffineMomentsKernel reusing storage: the same result, and no new arrays once warm")
    func reusedStorage() {
        let input = Self.batch(rows: 37, features: 17, special: false)
        let t = Self.affine(features: 17)
        var probe = input
        AffineTransform.apply(to: &probe, t)
        let shift = (0..<17).map { probe[0, $0] }
        var storage = ColumnMoments(count: 0, mean: [], variance: [])
        var first = input
        let fresh = AffineMomentsKernel.apply(to: &first, t, momentsAbout: shift)
        _ = AffineMomentsKernel.apply(to: &probe, t, momentsAbout: shift, reusing: &storage)
        let address = storage.mean.withUnsafeBufferPointer { $0.baseAddress }
        var second = input
        let reused = AffineMomentsKernel.apply(to: &second, t, momentsAbout: shift, reusing: &storage)
        #expect(reused.moments == fresh.moments)
        #expect(Self.bits(second) == Self.bits(first))
        #expect(storage.mean.withUnsafeBufferPointer { $0.baseAddress } == address)
    }

    @Test("AffineTransform.apply: every row and strided selections equal the row sweep's, bit for bit")
    func affineKernel() {
        for features in Self.widths {
            for rows in Self.rowCounts {
                let input = Self.batch(rows: rows, features: features, special: true, seed: 5)
                let t = Self.affine(features: features)
                let selections: [(first: Int, stride: Int, count: Int)] =
                    [(0, 1, rows)] + (rows >= 4 ? [(1, 3, (rows - 2) / 3 + 1), (rows - 1, 1, 1)] : [])
                for selection in selections {
                    for path in KernelPath.available {
                        var chunked = input, reference = input
                        AffineTransform.apply(
                            to: &chunked, t, firstRow: selection.first, rowStride: selection.stride, count: selection.count, path: path)
                        for step in 0..<selection.count {
                            let row = selection.first + step * selection.stride
                            for f in 0..<features { reference[row, f] = (reference[row, f] - t.center[f]) * t.scale[f] + t.offset[f] }
                        }
                        #expect(Self.bits(chunked) == Self.bits(reference), "\(rows) x \(features), rows \(selection), \(path)")
                    }
                }
            }
        }
    }

    @Test("ColumnExtremesKernel: the row sweep's extremes, bit for bit (signed zeros, NaN, infinities)")
    func extremesKernel() {
        var low: [Float] = [], high: [Float] = []
        for features in Self.widths {
            for rows in Self.rowCounts + [0] {
                for special in [false, true] {
                    let batch = Self.batch(rows: rows, features: features, special: special, seed: 9)
                    var expectedLow = [Float](repeating: .infinity, count: features)
                    var expectedHigh = [Float](repeating: -.infinity, count: features)
                    for row in 0..<rows {
                        for f in 0..<features {
                            let x = batch[row, f]
                            expectedLow[f] = x < expectedLow[f] ? x : expectedLow[f]
                            expectedHigh[f] = x > expectedHigh[f] ? x : expectedHigh[f]
                        }
                    }
                    for path in KernelPath.available {
                        ColumnExtremesKernel.measure(batch, low: &low, high: &high, path: path)
                        let label = "\(rows) x \(features), special \(special), \(path)"
                        #expect(low.map(\.bitPattern) == expectedLow.map(\.bitPattern), "minimum, \(label)")
                        #expect(high.map(\.bitPattern) == expectedHigh.map(\.bitPattern), "maximum, \(label)")
                    }
                }
            }
        }
    }

    @Test("a tie between +0 and −0 keeps the first seen, as the scalar comparison does")
    func signedZeroTie() {
        var low: [Float] = [], high: [Float] = []
        // Column 0 sees +0 first, column 1 −0 first; eight columns so the 8-lane chunk runs.
        let values: [Float] = (0..<8).map { $0 == 1 ? -0.0 : 0.0 } + (0..<8).map { $0 == 1 ? 0.0 : -0.0 }
        for path in KernelPath.available {
            ColumnExtremesKernel.measure(FeatureBatch(rows: 2, features: 8, values: values), low: &low, high: &high, path: path)
            #expect(low[0].bitPattern == Float(0).bitPattern && low[1].bitPattern == Float(-0.0).bitPattern, "\(path)")
            #expect(high[0].bitPattern == Float(0).bitPattern && high[1].bitPattern == Float(-0.0).bitPattern, "\(path)")
        }
    }

    @Test("the AVX2 kernels run exactly where /proc/cpuinfo lists avx2 (so the tests above cover them here)")
    func avx2WhereAvailable() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? []
        #expect(KernelPath.available.contains(.avx2) == flags.contains("avx2"))
    }
}
