import CKernels

/// One sweep that writes a stage's output and accumulates the **next** stage's moments of it:
///
/// ```
/// y = (x − center[f])·scale[f] + offset[f]          (then y = min(max(y, low), high) when clamped)
/// d = y − c[f]                                       (Float32; c = the next stage's Float32 shift)
/// Σd, Σd²: Float32 partial sums over blocks of 16 rows, each block folded into Float64
/// mean = c + Σd/n,  variance = (Σd² − (Σd)²/n)/n     (Chan, Golub & LeVeque)
/// ```
///
/// Why fused: a chain `min_max → batch_norm → batch_renorm` otherwise reads the batch once more per
/// stage just to compute the moments of what the previous stage has just written. Here `y` is still
/// in a register when its `d` is summed.
///
/// Why the loop is shaped so: the batch is cut into blocks of 16 rows (`ColumnMoments.blockRows`) and
/// each block into chunks of `FeatureChunk.width` features; a chunk's Σd and Σd² partials live in
/// SIMD registers for the block's 16 rows and are folded into Float64 once, at the block's end. The
/// previous shape (one sweep over every feature per row, the partials in two arrays) loaded and
/// stored both partial rows for every 4 values: 7 loads per 4 values, the load ports' limit (~0.9
/// cycles per value, `BENCHMARKS.md`). A block's chunk is 16 rows × 32 bytes, so each cache line of
/// the batch is read once per sweep from L1. The lanes are features, so every feature still sees the
/// same Float32 expressions on the same values, its 16-row blocks in the same row order, the same
/// fold (`Double(partial)` added block by block) and the same finish
/// (`ColumnMoments.finishAboutShift`): the output values and the moments are **bit-identical** to
/// `AffineTransform.apply` (then `clamp`) followed by `ColumnMoments.init(of:…:nearMean:)`'s pass 2
/// (`FusedChainBitsTests`, `ChunkedKernelBitsTests`). Features beyond the last whole chunk go through
/// 4-lane chunks, then one at a time (the same expressions on `Float`).
///
/// The moments are usable only where the unfused path would have kept them: when every sum is finite
/// and every mean lies within 2σ of the shift (the hint condition). Otherwise the next stage computes
/// its moments itself — the same result as before, one pass dearer. Finite sums also prove every
/// output value finite (a NaN or ±∞ in `y` makes its `d`, hence its sums, non-finite), so the chain's
/// whole-batch check of this stage's output is skipped exactly when `outputFinite` is true.
public enum AffineMomentsKernel {
    /// What the fused sweep learned about the values it wrote.
    public struct Result {
        /// The output's moments about the shift, when usable by the next stage (see above); `nil` when
        /// a sum was not finite or a mean was further than 2σ from its shift.
        public var moments: ColumnMoments?
        /// Every sum was finite, which proves every output value finite. `false` proves nothing
        /// (a finite `y` near 1e19 can overflow `d²`): the caller checks the output itself.
        public var outputFinite: Bool
    }

    /// Applies `coefficients` to every row of `batch` (clamping to `clamp` when given) and returns the
    /// output's moments about `shift` (one Float32 per feature), in newly allocated arrays.
    /// - Precondition: `batch.rows > 0`; `shift` and the coefficients have `batch.features` values.
    public static func apply(
        to batch: inout FeatureBatch, _ coefficients: borrowing CenteredAffine, clamp: (low: Float, high: Float)? = nil,
        momentsAbout shift: [Float]
    ) -> Result {
        var storage = ColumnMoments(count: 0, mean: [], variance: [])
        return apply(to: &batch, coefficients, clamp: clamp, momentsAbout: shift, reusing: &storage)
    }

    /// The same, writing the moments into `storage`'s arrays, which a stage keeps between batches:
    /// once they have the batch's width and nobody else holds them (the previous batch's moments were
    /// let go), nothing is allocated. The returned `moments` share `storage`'s arrays.
    public static func apply(
        to batch: inout FeatureBatch, _ coefficients: borrowing CenteredAffine, clamp: (low: Float, high: Float)? = nil,
        momentsAbout shift: [Float], reusing storage: inout ColumnMoments
    ) -> Result {
        apply(to: &batch, coefficients, clamp: clamp, momentsAbout: shift, reusing: &storage, path: .fastest)
    }

    /// The same on a chosen `path` (tests run both).
    package static func apply(
        to batch: inout FeatureBatch, _ coefficients: borrowing CenteredAffine, clamp: (low: Float, high: Float)?,
        momentsAbout shift: [Float], reusing storage: inout ColumnMoments, path: KernelPath
    ) -> Result {
        let features = batch.features, n = batch.rows
        precondition(n > 0 && shift.count == features && coefficients.center.count == features)
        storage.count = n
        storage.mean.reset(to: 0, count: features)
        storage.variance.reset(to: 0, count: features)
        let bounds = clamp ?? (low: -.infinity, high: .infinity)
        let outcome = coefficients.center.withUnsafeBufferPointer { c in
            coefficients.scale.withUnsafeBufferPointer { s in
                coefficients.offset.withUnsafeBufferPointer { o in
                    shift.withUnsafeBufferPointer { k in
                        storage.mean.withUnsafeMutableBufferPointer { mean in
                            storage.variance.withUnsafeMutableBufferPointer { variance in
                                batch.withUnsafeMutableValues { values in
                                    switch path {
                                    case .avx2:
                                        normd_affine_moments_avx2(
                                            values.baseAddress!, n, features, c.baseAddress!, s.baseAddress!, o.baseAddress!,
                                            k.baseAddress!, bounds.low, bounds.high, clamp != nil, mean.baseAddress!, variance.baseAddress!)
                                    case .portable:
                                        let sweep = Sweep(
                                            center: c.baseAddress!, scale: s.baseAddress!, offset: o.baseAddress!, shift: k.baseAddress!,
                                            low: bounds.low, high: bounds.high, sums: mean.baseAddress!, squares: variance.baseAddress!)
                                        // `clamped` a literal in each branch: the inlined loops carry no clamp when false.
                                        if clamp == nil {
                                            FeatureChunk.walk(
                                                sweep.clamped(false), values.baseAddress!, features: features, rows: n,
                                                blockRows: ColumnMoments.blockRows)
                                        } else {
                                            FeatureChunk.walk(
                                                sweep.clamped(true), values.baseAddress!, features: features, rows: n,
                                                blockRows: ColumnMoments.blockRows)
                                        }
                                    }
                                    return ColumnMoments.finishAboutShift(
                                        k.baseAddress!, count: n, features: features, mean: mean.baseAddress!, variance: variance.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
        let usable = outcome.finite && outcome.close
        return Result(moments: usable ? storage : nil, outputFinite: outcome.finite)
    }

    /// The coefficients, the shift and the Float64 accumulators of one sweep, as raw pointers.
    struct Sweep: ChunkSweep {
        let center: UnsafePointer<Float>, scale: UnsafePointer<Float>, offset: UnsafePointer<Float>, shift: UnsafePointer<Float>
        let low: Float, high: Float
        let sums: UnsafeMutablePointer<Double>, squares: UnsafeMutablePointer<Double>
        var clamps = false

        @inline(__always)
        func clamped(_ clamps: Bool) -> Sweep {
            var sweep = self
            sweep.clamps = clamps
            return sweep
        }

        /// The coefficients and both partial sums stay in registers for the block's rows; the
        /// partials are folded into Float64 at the end.
        @inline(__always)
        func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float {
            let c = V.load(center + f), s = V.load(scale + f), o = V.load(offset + f), k = V.load(shift + f)
            var partial = V(), partialSquares = V()
            var row = first
            for _ in 0..<rows {
                var y = (V.load(row) - c) * s + o
                if clamps { y = y.clamped(low, high) }
                y.store(to: row)
                let d = y - k
                partial += d
                partialSquares += d * d
                row += stride
            }
            FeatureChunk.fold(partial, partialSquares, into: sums + f, squares + f)
        }

        @inline(__always)
        func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) {
            let c = center[f], s = scale[f], o = offset[f], k = shift[f]
            var partial: Float = 0, partialSquares: Float = 0
            var row = first
            for _ in 0..<rows {
                var y = (row.pointee - c) * s + o
                if clamps { y = min(max(y, low), high) }
                row.pointee = y
                let d = y - k
                partial += d
                partialSquares += d * d
                row += stride
            }
            sums[f] += Double(partial)
            squares[f] += Double(partialSquares)
        }
    }
}
