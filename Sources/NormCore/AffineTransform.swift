/// Applies `y = x * scale[f] + shift[f]` to every row — the one shape every normalization here
/// reduces to (batch norm: `scale = γ/√(σ²+ε)`, `shift = β − μ·scale`; min-max: sklearn's
/// `scale_`, `min_`).
///
/// The multiply-add runs in Float64 and rounds once to Float32: `x·a + b` cancels when `b ≈ −x·a`
/// (a feature far from zero), and Float32 coefficients would add their own rounding to that. The
/// inner loop is still a contiguous per-row sweep the compiler vectorizes (convert, FMA, convert).
public enum AffineTransform {
    /// Transforms the rows `first, first + stride, …` (`count` of them), or all rows by default.
    public static func apply(
        to batch: inout FeatureBatch, scale: [Double], shift: [Double],
        firstRow first: Int = 0, rowStride stride: Int = 1, count: Int? = nil
    ) {
        let features = batch.features
        precondition(scale.count == features && shift.count == features)
        let n = count ?? batch.rows
        guard n > 0 else { return }
        precondition(first >= 0 && stride > 0 && first + (n - 1) * stride < batch.rows, "row selection exceeds the batch")
        scale.withUnsafeBufferPointer { a in
            shift.withUnsafeBufferPointer { b in
                batch.withUnsafeMutableValues { values in
                    // Row pointers, so the inner loop has no checked index arithmetic (an overflow
                    // check per element kept it scalar: ~9x slower).
                    let a = a.baseAddress!, b = b.baseAddress!
                    for step in 0..<n {
                        let row = values.baseAddress! + (first + step * stride) * features
                        for f in 0..<features {
                            row[f] = Float(Double(row[f]) * a[f] + b[f])
                        }
                    }
                }
            }
        }
    }

    /// Clamps every value of every row to `[low, high]`.
    public static func clamp(_ batch: inout FeatureBatch, low: Float, high: Float) {
        batch.withUnsafeMutableValues { values in
            for i in values.indices { values[i] = min(max(values[i], low), high) }
        }
    }
}
