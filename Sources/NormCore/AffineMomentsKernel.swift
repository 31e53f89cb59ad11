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
/// Why the loop is shaped so: it is `AffineTransform.apply` (and `clamp`) followed, row by row, by
/// pass 2 of `ColumnMoments.init(of:…:nearMean:)` — the same Float32 expressions on the same values,
/// the same 16-row blocks in the same row order, the same fold (`ColumnMoments.foldBlock`) and the
/// same finish (`ColumnMoments.finishAboutShift`). So the output values and the moments are
/// **bit-identical** to running the two separately (`FusedChainBitsTests` checks it). Each row is one
/// contiguous sweep over the features with five streams (x, center, scale, offset, shift) and two
/// accumulator rows, which the compiler vectorizes to 4-lane SSE on its own (`objdump -d` of the
/// release build: packed `subps`, `mulps`, `addps`, `minps` in the inner loops, scalar tails), so no
/// explicit `SIMD` types are needed here.
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
    /// output's moments about `shift` (one Float32 per feature).
    /// - Precondition: `batch.rows > 0`; `shift` and the coefficients have `batch.features` values.
    public static func apply(
        to batch: inout FeatureBatch, _ coefficients: borrowing CenteredAffine, clamp: (low: Float, high: Float)? = nil,
        momentsAbout shift: [Float]
    ) -> Result {
        let features = batch.features, n = batch.rows
        precondition(n > 0 && shift.count == features && coefficients.center.count == features)
        var mean = [Double](repeating: 0, count: features)
        var variance = [Double](repeating: 0, count: features)
        let low = clamp?.low ?? -.infinity, high = clamp?.high ?? .infinity
        let outcome = withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * features) { scratch in
            let partial = scratch.baseAddress!, partialSquares = partial + features
            return coefficients.center.withUnsafeBufferPointer { c in
                coefficients.scale.withUnsafeBufferPointer { s in
                    coefficients.offset.withUnsafeBufferPointer { o in
                        shift.withUnsafeBufferPointer { k in
                            mean.withUnsafeMutableBufferPointer { mean in
                                variance.withUnsafeMutableBufferPointer { variance in
                                    batch.withUnsafeMutableValues { values in
                                        let c = c.baseAddress!, s = s.baseAddress!, o = o.baseAddress!, k = k.baseAddress!
                                        let base = values.baseAddress!
                                        var blockStart = 0
                                        while blockStart < n {
                                            let blockEnd = min(blockStart + ColumnMoments.blockRows, n)
                                            partial.update(repeating: 0, count: features)
                                            partialSquares.update(repeating: 0, count: features)
                                            for step in blockStart..<blockEnd {
                                                let row = base + step * features
                                                if clamp == nil {
                                                    for f in 0..<features {
                                                        let y = (row[f] - c[f]) * s[f] + o[f]
                                                        row[f] = y
                                                        let d = y - k[f]
                                                        partial[f] += d
                                                        partialSquares[f] += d * d
                                                    }
                                                } else {
                                                    for f in 0..<features {
                                                        let y = min(max((row[f] - c[f]) * s[f] + o[f], low), high)
                                                        row[f] = y
                                                        let d = y - k[f]
                                                        partial[f] += d
                                                        partialSquares[f] += d * d
                                                    }
                                                }
                                            }
                                            ColumnMoments.foldBlock(
                                                partial, partialSquares, into: mean.baseAddress!,
                                                variance.baseAddress!, features: features)
                                            blockStart = blockEnd
                                        }
                                        return ColumnMoments.finishAboutShift(
                                            k, count: n, features: features,
                                            mean: mean.baseAddress!, variance: variance.baseAddress!)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let usable = outcome.finite && outcome.close
        return Result(
            moments: usable ? ColumnMoments(count: n, mean: mean, variance: variance) : nil,
            outputFinite: outcome.finite)
    }
}
