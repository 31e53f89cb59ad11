/// Per-feature mean and **biased** (÷N) variance of a set of rows, accumulated in Float64.
///
/// Computed two-pass with the correction term of Chan, Golub & LeVeque
/// (`Σ(x−m)² − (Σ(x−m))²/n`), never as `E[x²] − E[x]²`: a feature around 1e4 with a spread of a few
/// units would lose every significant digit to cancellation that way. Each pass walks blocks of
/// `blockRows` rows chunk by chunk (`FeatureChunk.walk`), each feature's rows in row order, so a
/// chunk's partial sums stay in SIMD registers for the block.
public struct ColumnMoments: Sendable, Equatable {
    public var count: Int
    public var mean: [Double]
    /// Biased variance (divided by `count`), as Keras and PyTorch use for the output.
    public var variance: [Double]

    public init(count: Int, mean: [Double], variance: [Double]) {
        self.count = count
        self.mean = mean
        self.variance = variance
    }

    /// Unbiased variance (divided by `count − 1`), what PyTorch stores in `running_var`.
    /// With one row there is no spread to estimate; the biased value (0) is returned.
    public var unbiasedVariance: [Double] {
        guard count > 1 else { return variance }
        let factor = Double(count) / Double(count - 1)
        return variance.map { $0 * factor }
    }

    /// Moments of the rows `first, first + stride, first + 2·stride, …` (`count` of them) of `batch`.
    ///
    /// A stride of 1 gives the whole batch; a stride of `G` with `first = j` gives tf_keras' strided
    /// ghost batch `j` (rows `j, j+G, j+2G, …`).
    ///
    /// The inner loops run in Float32 (4 lanes per SSE2 op, against 2 for Float64) over blocks of
    /// `blockRows` rows; each block's Float32 partial sums are folded into Float64 accumulators, so the
    /// Float32 rounding error is bounded by one block's worth, never the batch's:
    /// 1. a rough mean (blocked sums), rounded to Float32 — it only serves as the shift `c` of pass 2;
    /// 2. `d = x − c` in Float32 (exact by Sterbenz when `x` is within a factor 2 of `c`, i.e. for a
    ///    feature far from zero, where exactness matters) and blocked sums of `d` and `d²`; then
    ///    `mean = c + Σd/n` and `variance = (Σd² − (Σd)²/n)/n` in Float64 (Chan, Golub & LeVeque's
    ///    correction, which also absorbs pass 1's error).
    /// Values whose squares or sums leave Float32's range (|x| ≳ 1e19) fall back to `exact(…)`.
    ///
    /// `nearMean` (one Float32 per feature: the stage's running mean, so a restored stage computes
    /// exactly what an uninterrupted one would) lets a stationary stream
    /// skip pass 1: it is used as the shift `c` directly, and kept only if every feature's mean lands
    /// within 2 standard deviations of it, `(μ − c)² ≤ 4σ²` — then the correction cancels at most a
    /// factor 5 of `Σd²` (relative error ≤ 5 × one block's Float32 rounding, ~1e-6). Otherwise the
    /// result is discarded and both passes run, so a stale hint costs one pass, never accuracy.
    public init(
        of batch: FeatureBatch, firstRow first: Int = 0, rowStride stride: Int = 1, count: Int? = nil,
        nearMean: [Float]? = nil
    ) {
        let features = batch.features
        let n = count ?? batch.rows
        precondition(n > 0, "moments of zero rows are undefined")
        precondition(first >= 0 && stride > 0 && first + (n - 1) * stride < batch.rows, "row selection exceeds the batch")
        var mean = [Double](repeating: 0, count: features)
        var variance = [Double](repeating: 0, count: features)
        let finite = batch.withUnsafeValues { values in
            mean.withUnsafeMutableBufferPointer { mean in
                variance.withUnsafeMutableBufferPointer { variance in
                    Self.blockedMoments(
                        values.baseAddress!, features: features, first: first, stride: stride, count: n,
                        nearMean: nearMean, mean: mean.baseAddress!, variance: variance.baseAddress!)
                }
            }
        }
        if finite {
            self.init(count: n, mean: mean, variance: variance)
        } else {
            self = Self.exact(of: batch, firstRow: first, rowStride: stride, count: n)
        }
    }

    /// Rows per Float32 block: short enough that a block's Float32 sum loses at most a few units in
    /// the 7th digit (16 terms), long enough that folding into Float64 is a small share of the work.
    public static let blockRows = 16

    /// The blocked Float32/Float64 passes described at `init(of:…)`; writes the mean and biased
    /// variance and returns false when a Float32 intermediate overflowed (the caller falls back).
    private static func blockedMoments(
        _ base: UnsafePointer<Float>, features: Int, first: Int, stride: Int, count n: Int, nearMean: [Float]?,
        mean: UnsafeMutablePointer<Double>, variance: UnsafeMutablePointer<Double>
    ) -> Bool {
        // The shift on the stack (no heap allocation for ordinary widths); the partial sums live in
        // registers (`FeatureChunk.walk`: 16-row blocks, chunk by chunk, each feature's rows in order).
        withUnsafeTemporaryAllocation(of: Float.self, capacity: features) { scratch in
            let shift = scratch.baseAddress!
            let rows = UnsafeMutablePointer(mutating: base) // read only: the walk hands every kernel mutable row pointers
            let inverse = 1.0 / Double(n)

            /// Pass 2: blocked Σd, Σd² about `shift`, then mean and variance; returns (all finite,
            /// every mean within 2σ of the shift).
            func momentsAboutShift() -> (finite: Bool, close: Bool) {
                for f in 0..<features { mean[f] = 0; variance[f] = 0 }
                FeatureChunk.walk(
                    ShiftedSums(shift: shift, sums: mean, squares: variance), rows, features: features, firstRow: first,
                    rowStride: stride, rows: n, blockRows: blockRows)
                return finishAboutShift(UnsafePointer(shift), count: n, features: features, mean: mean, variance: variance)
            }

            if let nearMean, nearMean.count == features {
                nearMean.withUnsafeBufferPointer { shift.update(from: $0.baseAddress!, count: features) }
                let result = momentsAboutShift()
                if result.finite && result.close { return true }
            }

            // Pass 1: rough mean → Float32 shift.
            for f in 0..<features { mean[f] = 0 }
            FeatureChunk.walk(
                BlockSums(sums: mean), rows, features: features, firstRow: first, rowStride: stride, rows: n, blockRows: blockRows)
            for f in 0..<features { shift[f] = Float(mean[f] * inverse) }
            return momentsAboutShift().finite
        }
    }

    /// Pass 1: each block's Float32 sum `Σx` (starting from the block's first row), added into Float64.
    struct BlockSums: ChunkSweep {
        let sums: UnsafeMutablePointer<Double>

        @inline(__always)
        func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float {
            var partial = V.load(first)
            var row = first + stride
            for _ in 1..<rows {
                partial += V.load(row)
                row += stride
            }
            for lane in 0..<V.scalarCount { sums[f + lane] += Double(partial[lane]) }
        }

        @inline(__always)
        func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) {
            var partial = first.pointee
            var row = first + stride
            for _ in 1..<rows {
                partial += row.pointee
                row += stride
            }
            sums[f] += Double(partial)
        }
    }

    /// Pass 2: each block's Float32 `Σd`, `Σd²` with `d = x − shift`, added into Float64.
    struct ShiftedSums: ChunkSweep {
        let shift: UnsafeMutablePointer<Float>
        let sums: UnsafeMutablePointer<Double>, squares: UnsafeMutablePointer<Double>

        @inline(__always)
        func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float {
            let k = V.load(shift + f)
            var partial = V(), partialSquares = V()
            var row = first
            for _ in 0..<rows {
                let d = V.load(row) - k
                partial += d
                partialSquares += d * d
                row += stride
            }
            FeatureChunk.fold(partial, partialSquares, into: sums + f, squares + f)
        }

        @inline(__always)
        func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) {
            let k = shift[f]
            var partial: Float = 0, partialSquares: Float = 0
            var row = first
            for _ in 0..<rows {
                let d = row.pointee - k
                partial += d
                partialSquares += d * d
                row += stride
            }
            sums[f] += Double(partial)
            squares[f] += Double(partialSquares)
        }
    }

    /// Turns `Σd` (in `mean`) and `Σd²` (in `variance`) about the Float32 `shift`, over `count` rows,
    /// into `mean = c + Σd/n` and the biased `variance = (Σd² − (Σd)²/n)/n` (Chan, Golub & LeVeque's
    /// correction), in place. Returns whether every sum and shift was finite — a non-finite input
    /// value makes its `d` and so its sums non-finite, so `finite` also proves the values were — and
    /// whether every mean lies within 2σ of its shift (`(μ − c)² ≤ 4σ²`, the condition under which a
    /// hinted shift is kept; see `init(of:…:nearMean:)`).
    package static func finishAboutShift(
        _ shift: UnsafePointer<Float>, count n: Int, features: Int,
        mean: UnsafeMutablePointer<Double>, variance: UnsafeMutablePointer<Double>
    ) -> (finite: Bool, close: Bool) {
        let n64 = Double(n), inverse = 1.0 / n64
        // Dividing by a power of two and multiplying by its exact inverse are the same correctly
        // rounded operation on the same real number, so the same bits; a batch of 256 rows then
        // pays no division per feature. The flags are OR-ed, not `&&`-ed: no branch per feature.
        if n & (n - 1) == 0 {
            return finish(shift, features: features, mean: mean, variance: variance, inverse: inverse) { $0 * inverse }
        }
        return finish(shift, features: features, mean: mean, variance: variance, inverse: inverse) { $0 / n64 }
    }

    /// `finishAboutShift`'s loop, with `divide(x)` = x/n.
    @inline(__always)
    private static func finish(
        _ shift: UnsafePointer<Float>, features: Int, mean: UnsafeMutablePointer<Double>, variance: UnsafeMutablePointer<Double>,
        inverse: Double, divide: (Double) -> Double
    ) -> (finite: Bool, close: Bool) {
        // Finiteness as exponent tests on the bit patterns (±∞ and NaN have the all-ones exponent; the
        // shift is tested widened, which keeps both), every flag an OR and the index advanced by a
        // `while`: no control flow the vectoriser refuses (`for f in 0..<features` made it see an
        // early exit), so two features go per SSE2 instruction.
        let exponent: UInt64 = 0x7FF0_0000_0000_0000
        var nonFinite: UInt64 = 0, far: UInt64 = 0
        var f = 0
        while f < features {
            defer { f &+= 1 }
            let residual = mean[f], squares = variance[f], k = Double(shift[f])
            nonFinite |=
                (residual.bitPattern & exponent == exponent ? 1 : 0) | (squares.bitPattern & exponent == exponent ? 1 : 0)
                | (k.bitPattern & exponent == exponent ? 1 : 0)
            let offset = residual * inverse
            mean[f] = k + offset
            let spread = max(0, divide(squares - divide(residual * residual)))
            variance[f] = spread
            far |= offset * offset <= 4 * spread ? 0 : 1
        }
        return (nonFinite == 0, far == 0)
    }

    /// The all-Float64 two-pass moments: the fallback for values beyond Float32's comfortable range
    /// (and the reference the blocked path is tested against).
    public static func exact(of batch: FeatureBatch, firstRow first: Int = 0, rowStride stride: Int = 1, count: Int? = nil) -> ColumnMoments {
        let features = batch.features
        let n = count ?? batch.rows
        precondition(n > 0, "moments of zero rows are undefined")
        precondition(first >= 0 && stride > 0 && first + (n - 1) * stride < batch.rows, "row selection exceeds the batch")
        var sum = [Double](repeating: 0, count: features)
        var squares = [Double](repeating: 0, count: features)
        var residuals = [Double](repeating: 0, count: features)
        // Row pointers, so the inner loops have no checked index arithmetic (an overflow check per
        // element kept them scalar).
        batch.withUnsafeValues { values in
            let base = values.baseAddress!
            sum.withUnsafeMutableBufferPointer { sum in
                let sum = sum.baseAddress!
                for step in 0..<n {
                    let row = base + (first + step * stride) * features
                    for f in 0..<features { sum[f] += Double(row[f]) }
                }
                let scale = 1.0 / Double(n)
                for f in 0..<features { sum[f] *= scale }
            }
            sum.withUnsafeBufferPointer { mean in
                squares.withUnsafeMutableBufferPointer { squares in
                    residuals.withUnsafeMutableBufferPointer { residuals in
                        let mean = mean.baseAddress!, squares = squares.baseAddress!, residuals = residuals.baseAddress!
                        for step in 0..<n {
                            let row = base + (first + step * stride) * features
                            for f in 0..<features {
                                let d = Double(row[f]) - mean[f]
                                residuals[f] += d
                                squares[f] += d * d
                            }
                        }
                    }
                }
            }
        }
        let n64 = Double(n)
        var variance = [Double](repeating: 0, count: features)
        for f in 0..<features {
            variance[f] = max(0, (squares[f] - residuals[f] * residuals[f] / n64) / n64)
        }
        return ColumnMoments(count: n, mean: sum, variance: variance)
    }

    /// Writes `mean` (a running mean from the stage's state) as the Float32 `nearMean` hint into the
    /// caller's reusable `hint` (allocates only the first time).
    public static func hint(from mean: [Double], into hint: inout [Float]) {
        if hint.count != mean.count { hint = [Float](repeating: 0, count: mean.count) }
        for f in mean.indices { hint[f] = Float(mean[f]) }
    }

    /// tf_keras ghost-batch moments: the batch of `N` rows is split into `N / virtualBatchSize`
    /// strided ghost batches (ghost `j` = rows `j, j+G, j+2G, …`), each with its own moments.
    public static func ghostBatches(of batch: FeatureBatch, virtualBatchSize: Int, nearMean: [Float]? = nil) -> [ColumnMoments] {
        precondition(
            virtualBatchSize > 0 && batch.rows % virtualBatchSize == 0,
            "rows must be a multiple of virtual_batch_size")
        let ghostCount = batch.rows / virtualBatchSize
        return (0..<ghostCount).map { j in
            ColumnMoments(of: batch, firstRow: j, rowStride: ghostCount, count: virtualBatchSize, nearMean: nearMean)
        }
    }

    /// Element-wise mean of several moments' means and variances — how tf_keras folds ghost batches
    /// into one moving-statistics update (a mean of within-ghost variances, not the full-batch variance).
    public static func average(_ parts: [ColumnMoments]) -> ColumnMoments {
        precondition(!parts.isEmpty)
        let features = parts[0].mean.count
        var mean = [Double](repeating: 0, count: features)
        var variance = [Double](repeating: 0, count: features)
        for part in parts {
            for f in 0..<features {
                mean[f] += part.mean[f]
                variance[f] += part.variance[f]
            }
        }
        let scale = 1.0 / Double(parts.count)
        for f in 0..<features {
            mean[f] *= scale
            variance[f] *= scale
        }
        return ColumnMoments(count: parts.reduce(0) { $0 + $1.count }, mean: mean, variance: variance)
    }
}
