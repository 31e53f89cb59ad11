public import NormCore

/// Batch norm (and renorm) written as the `x·scale + shift` that `AffineTransform` applies:
/// `y = γ·((x − μ)/√(σ² + ε)·r + d) + β` gives `scale = γ·r/√(σ² + ε)`, `shift = d·γ + β − μ·scale`.
///
/// This is the operation order tf_keras (`tf.nn.batch_normalization`) and PyTorch
/// (`batch_norm_cpu_collect_linear_and_constant_terms`) use; computing it in Float64 keeps the
/// cancellation in `x·scale − μ·scale` harmless for features far from zero. Plain batch norm is
/// `r = 1`, `d = 0`.
public enum NormalizationCoefficients {
    public static func affine(
        mean: [Double], variance: [Double], gamma: [Double], beta: [Double], epsilon: Double,
        r: [Double]? = nil, d: [Double]? = nil
    ) -> (scale: [Double], shift: [Double]) {
        let count = mean.count
        var scale = [Double](repeating: 0, count: count)
        var shift = [Double](repeating: 0, count: count)
        for f in 0..<count {
            let correction = r?[f] ?? 1
            let offset = (d?[f] ?? 0) * gamma[f] + beta[f]
            scale[f] = gamma[f] * correction / (variance[f] + epsilon).squareRoot()
            shift[f] = offset - mean[f] * scale[f]
        }
        return (scale, shift)
    }

    /// The same normalization as Float32 `y = (x − μ)·scale + offset` (`offset = d·γ + β`) for
    /// `AffineTransform.apply(to:_:)`, written into `coefficients` (reused across batches, so no
    /// allocation once warm). The centered form avoids `x·scale − μ·scale` cancelling in Float32.
    public static func centered(
        into coefficients: inout CenteredAffine,
        mean: [Double], variance: [Double], gamma: [Double], beta: [Double], epsilon: Double,
        r: [Double]? = nil, d: [Double]? = nil
    ) {
        for f in 0..<mean.count {
            let correction = r?[f] ?? 1
            let offset = (d?[f] ?? 0) * gamma[f] + beta[f]
            coefficients.set(f, center: mean[f], scale: gamma[f] * correction / (variance[f] + epsilon).squareRoot(), offset: offset)
        }
    }
}
