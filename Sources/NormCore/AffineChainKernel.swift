import CKernels

/// Applies several stages' affine maps to every value in one read/write sweep, each in registers in
/// turn:
///
/// ```
/// v = x
/// for each stage j in order:  v = (v − center_j[f])·scale_j[f] + offset_j[f]     (Float32)
/// write v
/// ```
///
/// Each stage's step is `AffineTransform.apply`'s expression, rounded as it is (no fused
/// multiply-add), so the result is bit for bit what applying the stages one pass each would write
/// with the same coefficients (`ChainKernelBitsTests`) — in one pass over the batch instead of one
/// per stage. It is the write pass of the chain's train path from summaries (`ColumnSummary`), where
/// every stage's coefficients are known before any value is written.
///
/// Why the loop is shaped so: as `AffineTransform`, 16-row blocks walked chunk by chunk with the
/// chunk's coefficients loaded once per block. In the AVX2 kernel (`normd_affine_chain_avx2`) a chunk
/// is 8 features and up to three stages' coefficients (9 ymm registers) stay in registers; a longer
/// chain is applied three stages per sweep (the same operations in the same order). One load and one
/// store per 8 values; 3 × 3 arithmetic operations, so the sweep is bound by the FP adds (6 per
/// 8 values on two pipes), not by memory.
///
/// Except when a row is a multiple of 4 KiB (1024, 2048… features): then a block's 16 rows fall into
/// one of L1's sets (8 ways) and evict each other between one chunk and the next, and the AVX2 kernel
/// walks two rows at a time instead, loading each chunk's coefficients for the pair from
/// `AffineChain.packed`, where they are contiguous. At 1024 features that took the sweep from 312 µs
/// per 256-row batch to 115 µs with the flat arrays, and to 64 µs packed (`ChainCPU`; BENCHMARKS.md,
/// "Wide rows: the affine sweep").
/// Every value still gets the same operations in the same order, so the same bits. The portable path
/// (`FeatureChunk.walk`, machines without AVX2) walks blocks at every width.
public enum AffineChainKernel {
    /// Applies `chain`'s stages, first to last, to every row of `batch`.
    public static func apply(to batch: inout FeatureBatch, _ chain: borrowing AffineChain) {
        apply(to: &batch, chain, path: .fastest)
    }

    /// The same on a chosen `path` (tests run both).
    package static func apply(to batch: inout FeatureBatch, _ chain: borrowing AffineChain, path: KernelPath) {
        let features = batch.features, n = batch.rows, stages = chain.stages
        precondition(chain.features == features)
        guard n > 0, stages > 0 else { return }
        chain.center.withUnsafeBufferPointer { c in
            chain.scale.withUnsafeBufferPointer { s in
                chain.offset.withUnsafeBufferPointer { o in
                    // The closure returns an `Int` (unused), neither `Void` nor `Bool`: `withUnsafeMutableValues`
                    // has exported pre-specializations for those two, and with a call from this file the
                    // release build (multi-threaded WMO, Swift 6.3.1 on Linux) referenced the one used
                    // here from every caller's object and emitted it in none (undefined symbol at link).
                    // Any other result type gets a specialization of its own.
                    _ = batch.withUnsafeMutableValues { values -> Int in
                        switch path {
                        case .avx2:
                            chain.packed.withUnsafeBufferPointer { packed in
                                normd_affine_chain_avx2(
                                    values.baseAddress!, n, features, c.baseAddress!, s.baseAddress!, o.baseAddress!, stages,
                                    packed.isEmpty ? nil : packed.baseAddress)
                            }
                        case .portable:
                            FeatureChunk.walk(
                                Sweep(center: c.baseAddress!, scale: s.baseAddress!, offset: o.baseAddress!, stages: stages, features: features),
                                values.baseAddress!, features: features, rows: n)
                        }
                        return n
                    }
                }
            }
        }
    }

    /// The coefficients of every stage (stage `j`'s at `j·features`), as raw pointers.
    struct Sweep: ChunkSweep {
        let center: UnsafePointer<Float>, scale: UnsafePointer<Float>, offset: UnsafePointer<Float>
        let stages: Int, features: Int

        @inline(__always)
        func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float {
            var row = first
            for _ in 0..<rows {
                var v = V.load(row)
                for j in 0..<stages {
                    let at = j * features + f
                    v = (v - V.load(center + at)) * V.load(scale + at) + V.load(offset + at)
                }
                v.store(to: row)
                row += stride
            }
        }

        @inline(__always)
        func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) {
            var row = first
            for _ in 0..<rows {
                var v = row.pointee
                for j in 0..<stages {
                    let at = j * features + f
                    v = (v - center[at]) * scale[at] + offset[at]
                }
                row.pointee = v
                row += stride
            }
        }
    }
}

/// The Float32 coefficients of a chain of affine stages, stage after stage in flat arrays (stage `j`,
/// feature `f` at `j·features + f`), filled from each stage's `CenteredAffine` per batch. The arrays
/// are kept between batches: once they have the size, `reset` and `set` allocate nothing, and no
/// stage's own coefficient arrays are retained (a stage rewrites those in place next batch).
public struct AffineChain: Sendable, Equatable {
    public private(set) var features: Int
    public private(set) var stages: Int
    public private(set) var center: [Float] = []
    public private(set) var scale: [Float] = []
    public private(set) var offset: [Float] = []
    /// The same coefficients laid out for the AVX2 kernel's row-pair walk, kept only when a row is a
    /// multiple of 4 KiB (`packs`; empty otherwise). For each group of up to three stages (as the
    /// kernel applies them), for each 8-feature chunk, the group's stages one after the other, each as
    /// 8 centers, 8 scales and 8 offsets: one chunk's coefficients are one contiguous run. Stage `j`
    /// of a group that starts at stage `g` and has `m` stages, chunk `k`, is at
    /// `3·g·features + (k·m + j − g)·24`. With the flat arrays the 9 loads of a chunk came from 9
    /// places 4 KiB apart; packed, the sweep at 1024 features took 77 µs instead of 134 in a C
    /// bench (BENCHMARKS.md, "Wide rows: the affine sweep").
    public private(set) var packed: [Float] = []

    /// Whether rows of `features` features are a multiple of 4 KiB: then the kernel walks row pairs
    /// over `packed`.
    static func packs(features: Int) -> Bool { features > 0 && features % 1024 == 0 }

    public init(features: Int, stages: Int) {
        self.features = 0
        self.stages = 0
        reset(features: features, stages: stages)
    }

    /// Sizes the chain for `stages` stages of `features` features (identity maps until set).
    public mutating func reset(features: Int, stages: Int) {
        self.features = features
        self.stages = stages
        center.reset(to: 0, count: features * stages)
        scale.reset(to: 1, count: features * stages)
        offset.reset(to: 0, count: features * stages)
        packed.reset(to: 0, count: Self.packs(features: features) ? 3 * features * stages : 0)
        if !packed.isEmpty { for j in 0..<stages { pack(stage: j) } }
    }

    /// Copies stage `j`'s coefficients from the flat arrays into `packed`.
    private mutating func pack(stage j: Int) {
        let group = j / 3 * 3, members = min(3, stages - group)
        let base = 3 * group * features + (j - group) * 24, from = j * features
        center.withUnsafeBufferPointer { c in
            scale.withUnsafeBufferPointer { s in
                offset.withUnsafeBufferPointer { o in
                    packed.withUnsafeMutableBufferPointer { p in
                        for k in 0..<(features / 8) {
                            let at = p.baseAddress! + base + k * members * 24, f = from + k * 8
                            at.update(from: c.baseAddress! + f, count: 8)
                            (at + 8).update(from: s.baseAddress! + f, count: 8)
                            (at + 16).update(from: o.baseAddress! + f, count: 8)
                        }
                    }
                }
            }
        }
    }

    /// Makes stage `j` apply `coefficients`.
    public mutating func set(stage j: Int, _ coefficients: borrowing CenteredAffine) {
        precondition(j >= 0 && j < stages && coefficients.center.count == features)
        guard features > 0 else { return }
        let start = j * features
        center.withUnsafeMutableBufferPointer { target in
            coefficients.center.withUnsafeBufferPointer { target.baseAddress!.advanced(by: start).update(from: $0.baseAddress!, count: features) }
        }
        scale.withUnsafeMutableBufferPointer { target in
            coefficients.scale.withUnsafeBufferPointer { target.baseAddress!.advanced(by: start).update(from: $0.baseAddress!, count: features) }
        }
        offset.withUnsafeMutableBufferPointer { target in
            coefficients.offset.withUnsafeBufferPointer { target.baseAddress!.advanced(by: start).update(from: $0.baseAddress!, count: features) }
        }
        if !packed.isEmpty { pack(stage: j) }
    }
}
