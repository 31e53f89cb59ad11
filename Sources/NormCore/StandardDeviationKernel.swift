import CKernels

/// Per-feature standard deviations from variances, as batch norm divides by them:
///
/// ```
/// σ[f] = √(σ²[f] + ε)
/// ```
///
/// Why a kernel of its own: Swift's `Double.squareRoot()` keeps a call to libm's `sqrt` for negative
/// inputs (for `errno`), so no loop that contains it is vectorised; a train batch of a
/// `batch_norm → batch_renorm` chain took 256 scalar square roots this way. The C loop
/// (`normd_stddev`, SSE2, which every x86-64 CPU has) takes two per instruction. The add and the square
/// root are correctly rounded per lane, so the bits are those of `(variance + epsilon).squareRoot()`
/// (`CoefficientBitsTests`). The callers' remaining per-feature loops (divisions, clamps) have no
/// library call left and are vectorised by the compiler.
public enum StandardDeviationKernel {
    /// Writes `√(variance[f] + epsilon)` for every feature into `stddev`, in its existing storage when
    /// it has the width and is not shared (no allocation once warm).
    public static func compute(_ variance: [Double], epsilon: Double, into stddev: inout [Double]) {
        if stddev.count != variance.count { stddev = [Double](repeating: 0, count: variance.count) }
        variance.withUnsafeBufferPointer { variance in
            stddev.withUnsafeMutableBufferPointer { stddev in
                guard let source = variance.baseAddress, let target = stddev.baseAddress else { return }
                normd_stddev(source, epsilon, target, variance.count)
            }
        }
    }
}
