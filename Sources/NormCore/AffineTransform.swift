import CKernels

/// Applies `y = (x − center[f])·scale[f] + offset[f]` to every row — the one shape every
/// normalization here reduces to (batch norm: `scale = γ/√(σ²+ε)`, `offset = β`, `center = μ`;
/// min-max: sklearn's `scale_`, `min_` with center 0) — and clamps.
public enum AffineTransform {
    /// Applies `y = (x − center[f])·scale[f] + offset[f]` in Float32 (no conversions) to the rows
    /// `first, first + stride, …` (`count` of them), or all rows by default.
    ///
    /// Centering first avoids the cancellation of the folded form `x·scale + (offset − center·scale)`:
    /// `x − center` is exact (Sterbenz) for a feature far from zero, so a Float32 multiply-add on the
    /// small difference loses nothing a Float64 `x·a + b` would not. Build the coefficients with
    /// `CenteredAffine`, which folds the Float64 → Float32 rounding of the center into the offset.
    ///
    /// Why the loop is shaped so: the rows are taken 16 at a time and each block chunk by chunk
    /// (`FeatureChunk.width` features, then 4, then one at a time), the chunk's three coefficient
    /// vectors loaded once into registers for the block's rows. A sweep over all features per row
    /// instead loads `center`, `scale` and `offset` again for every 4 values: 4 loads per 4 values,
    /// which the two load ports make the limit. Each value still gets the same Float32 expression,
    /// so the output is bit-identical whatever the shape.
    public static func apply(
        to batch: inout FeatureBatch, _ coefficients: borrowing CenteredAffine,
        firstRow first: Int = 0, rowStride stride: Int = 1, count: Int? = nil
    ) {
        apply(to: &batch, coefficients, firstRow: first, rowStride: stride, count: count, path: .fastest)
    }

    /// The same on a chosen `path` (tests run both).
    package static func apply(
        to batch: inout FeatureBatch, _ coefficients: borrowing CenteredAffine, firstRow first: Int = 0, rowStride stride: Int = 1,
        count: Int? = nil, path: KernelPath
    ) {
        let features = batch.features
        precondition(coefficients.center.count == features)
        let n = count ?? batch.rows
        guard n > 0 else { return }
        precondition(first >= 0 && stride > 0 && first + (n - 1) * stride < batch.rows, "row selection exceeds the batch")
        coefficients.center.withUnsafeBufferPointer { c in
            coefficients.scale.withUnsafeBufferPointer { s in
                coefficients.offset.withUnsafeBufferPointer { o in
                    batch.withUnsafeMutableValues { values in
                        switch path {
                        case .avx2:
                            normd_affine_avx2(values.baseAddress!, first, stride, n, features, c.baseAddress!, s.baseAddress!, o.baseAddress!)
                        case .portable:
                            FeatureChunk.walk(
                                Sweep(center: c.baseAddress!, scale: s.baseAddress!, offset: o.baseAddress!), values.baseAddress!,
                                features: features, firstRow: first, rowStride: stride, rows: n)
                        }
                    }
                }
            }
        }
    }

    /// The coefficients as raw pointers, and the per-chunk loops.
    struct Sweep: ChunkSweep {
        let center: UnsafePointer<Float>, scale: UnsafePointer<Float>, offset: UnsafePointer<Float>

        @inline(__always)
        func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float {
            let c = V.load(center + f), s = V.load(scale + f), o = V.load(offset + f)
            var row = first
            for _ in 0..<rows {
                ((V.load(row) - c) * s + o).store(to: row)
                row += stride
            }
        }

        @inline(__always)
        func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) {
            let c = center[f], s = scale[f], o = offset[f]
            var row = first
            for _ in 0..<rows {
                row.pointee = (row.pointee - c) * s + o
                row += stride
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

/// Float32 coefficients of `y = (x − center)·scale + offset`, derived from Float64 ones.
///
/// Rounding a center near 1e4 to Float32 moves it by up to ~5e-4, which `scale` would carry into the
/// output; the rounding residual is folded into the offset instead (`offset − (center − center₃₂)·scale`,
/// computed in Float64), so only O(1)-sized quantities are rounded once each.
public struct CenteredAffine: Sendable, Equatable {
    public private(set) var center: [Float]
    public private(set) var scale: [Float]
    public private(set) var offset: [Float]

    public init(featureCount: Int) {
        center = [Float](repeating: 0, count: featureCount)
        scale = [Float](repeating: 1, count: featureCount)
        offset = [Float](repeating: 0, count: featureCount)
    }

    /// Sets feature `f` to `y = (x − center)·scale + offset` (Float64 inputs).
    @inline(__always)
    public mutating func set(_ f: Int, center: Double, scale: Double, offset: Double) {
        (self.center[f], self.scale[f], self.offset[f]) = Self.rounded(center: center, scale: scale, offset: offset)
    }

    /// Sets every feature `f` to `coefficients(f)`, as `set` does, with one uniqueness check per array
    /// instead of three per feature. (A stage in another module pays an indirect call per feature
    /// here: its per-batch loops use `withUnsafeMutableCoefficients` and `rounded` instead.)
    public mutating func setAll(_ coefficients: (Int) -> (center: Double, scale: Double, offset: Double)) {
        withUnsafeMutableCoefficients { center, scale, offset in
            for f in 0..<center.count {
                let wanted = coefficients(f)
                (center[f], scale[f], offset[f]) = Self.rounded(center: wanted.center, scale: wanted.scale, offset: wanted.offset)
            }
        }
    }

    /// The three Float32 arrays, writable in place (one uniqueness check each), for a stage that
    /// recomputes every coefficient per train batch: its loop, compiled in its own module with
    /// `rounded` inlined, runs without a call per feature (`setAll`'s closure was ~8 % of a
    /// 256 × 128 chain, profiled). Write each feature's triple as `rounded` gives it.
    ///
    /// Not generic over a result: the stages call it from other modules, where a generic one ran
    /// unspecialized — three `Array<Float>` metadata look-ups and the generic
    /// `withUnsafeMutableBufferPointer` per call, ~2 000 instructions of a 256 × 16 train batch's
    /// ~37 000 (callgrind, BENCHMARKS.md "Issue 15, chain per-batch overhead").
    package mutating func withUnsafeMutableCoefficients(
        _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Void
    ) {
        center.withUnsafeMutableBufferPointer { center in
            scale.withUnsafeMutableBufferPointer { scale in
                offset.withUnsafeMutableBufferPointer { offset in body(center, scale, offset) }
            }
        }
    }

    /// The Float32 triple: the center rounded (0 when it does not fit), the rounding residual folded
    /// into the offset in Float64.
    @inlinable @inline(__always)
    package static func rounded(center: Double, scale: Double, offset: Double) -> (Float, Float, Float) {
        let rounded = Float(center)
        let kept = rounded.isFinite ? rounded : 0
        return (kept, Float(scale), Float(offset - (center - Double(kept)) * scale))
    }
}
