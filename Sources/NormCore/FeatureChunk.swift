import CKernels

/// The feature chunk the row-blocked kernels (`AffineMomentsKernel`, `AffineTransform`,
/// `ColumnExtremesKernel`) keep in registers while they walk a block of rows: 8 Float32 lanes, two SSE
/// registers per value on baseline x86-64. Eight (not 16) so that a fused sweep's four coefficient
/// vectors, its two partial sums and its temporaries fit the 16 XMM registers without spilling.
public enum FeatureChunk {
    public typealias Lanes = SIMD8<Float>
    public static let width = Lanes.scalarCount
    /// Rows per block for the kernels whose result does not depend on the blocking (the affine apply,
    /// the extremes): 16 rows of a chunk are 512 bytes, so a block stays in L1 while its chunks are
    /// walked, whatever the width. (The moments' blocks are `ColumnMoments.blockRows`: there the
    /// blocking decides the rounding.)
    public static let blockRows = 16
}

/// Which implementation the chain kernels run. The build targets baseline x86-64 (4-lane SSE) and
/// Swift has no per-function target attribute, so the 8-lane AVX2 kernels are C (`CKernels`), each
/// function compiled for AVX2 and called only when the CPU has it; the Swift loops are the fallback,
/// and the reference both paths are tested against (`ChunkedKernelBitsTests`: the same bits).
package enum KernelPath: Sendable {
    case portable, avx2

    /// AVX2 when this CPU has it (asked once).
    package static let fastest: KernelPath = normd_kernels_have_avx2() ? .avx2 : .portable
    /// The paths this CPU can run.
    package static var available: [KernelPath] { fastest == .avx2 ? [.portable, .avx2] : [.portable] }
}

extension SIMD where Scalar == Float {
    /// `scalarCount` consecutive values from `pointer` (no alignment needed).
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    @inline(__always)
    static func load(_ pointer: UnsafeMutablePointer<Float>) -> Self {
        load(UnsafePointer(pointer))
    }

    /// Writes the lanes to `pointer` (no alignment needed).
    @inline(__always)
    func store(to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: Self.self)
    }

    /// Lane by lane `min(max(x, low), high)` with the standard library's exact choices
    /// (`max(x, low)` is `low >= x ? low : x`, `min(v, high)` is `high < v ? high : v`), so a NaN or a
    /// signed zero comes out as the scalar expression gives it. Written per lane: the compiler turns
    /// the unrolled lanes into packed compares and selects, where `replacing(with:where:)` on a
    /// `SIMDMask` stayed a scalar loop through memory (30× slower, measured).
    @inline(__always)
    func clamped(_ low: Scalar, _ high: Scalar) -> Self {
        var result = self
        for lane in 0..<Self.scalarCount { result[lane] = Swift.min(Swift.max(self[lane], low), high) }
        return result
    }

    /// Lane by lane `x < self ? x : self` (the running minimum, ties and NaN as the scalar test).
    @inline(__always)
    func lower(_ x: Self) -> Self {
        var result = self
        for lane in 0..<Self.scalarCount { result[lane] = x[lane] < self[lane] ? x[lane] : self[lane] }
        return result
    }

    /// Lane by lane `x > self ? x : self` (the running maximum).
    @inline(__always)
    func higher(_ x: Self) -> Self {
        var result = self
        for lane in 0..<Self.scalarCount { result[lane] = x[lane] > self[lane] ? x[lane] : self[lane] }
        return result
    }
}

extension Array {
    /// Makes this `count` copies of `value` in its existing storage — no allocation when the count
    /// matches and the storage is not shared: a kernel's per-feature accumulators, reused per batch.
    package mutating func reset(to value: Element, count: Int) {
        guard self.count == count else { self = Array(repeating: value, count: count); return }
        withUnsafeMutableBufferPointer { $0.update(repeating: value) }
    }

    /// Gives this array `count` elements for a caller that then overwrites every one: unchanged (not
    /// filled) when it has that many already, else `count` copies of `value`. Saves `reset`'s fill where
    /// it would be overwritten anyway (`ColumnSummary.mapped`, per stage per train batch).
    package mutating func resize(to count: Int, filling value: Element) {
        if self.count != count { self = Array(repeating: value, count: count) }
    }
}

/// A row-blocked kernel's work on one chunk of features of one block of rows, as
/// `FeatureChunk.walk` drives it.
protocol ChunkSweep {
    /// Features `f ..< f + V.scalarCount` of `rows` rows, the first at `first`, `stride` values apart.
    func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float
    /// Feature `f` alone (beyond the last 4-lane chunk): the same expressions on `Float`.
    func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int)
}

extension FeatureChunk {
    /// Adds a block's Float32 partial sums `Σd` and `Σd²` (one lane per feature) into the Float64
    /// accumulators of those features: `Double(partial)` added once per block, the fold that bounds
    /// the Float32 rounding to one block's worth (`ColumnMoments.init(of:…)`).
    @inline(__always)
    static func fold<V: SIMD>(_ partial: V, _ partialSquares: V, into sums: UnsafeMutablePointer<Double>, _ squares: UnsafeMutablePointer<Double>)
    where V.Scalar == Float {
        for lane in 0..<V.scalarCount {
            sums[lane] += Double(partial[lane])
            squares[lane] += Double(partialSquares[lane])
        }
    }

    /// Walks the rows `first, first + stride, …` (`n` of them) of the row-major values at `base` in
    /// blocks of `blockRows` rows and each block in chunks: `width` features, then 4, then one at a
    /// time, left to right. Per feature, the rows are visited in order, so a kernel computes the same
    /// per-feature sequence of operations as a row-by-row sweep, in registers.
    @inline(__always)
    static func walk(
        _ sweep: some ChunkSweep, _ base: UnsafeMutablePointer<Float>, features: Int, firstRow first: Int = 0,
        rowStride stride: Int = 1, rows n: Int, blockRows: Int = FeatureChunk.blockRows
    ) {
        let rowStride = stride * features
        let wide = features - features % width, narrow = features - features % 4
        var blockStart = 0
        while blockStart < n {
            let block = base + (first + blockStart * stride) * features, rows = min(blockRows, n - blockStart)
            var f = 0
            while f < wide {
                sweep.chunk(Lanes.self, block + f, rows: rows, stride: rowStride, at: f)
                f += width
            }
            while f < narrow {
                sweep.chunk(SIMD4<Float>.self, block + f, rows: rows, stride: rowStride, at: f)
                f += 4
            }
            while f < features {
                sweep.single(block + f, rows: rows, stride: rowStride, at: f)
                f += 1
            }
            blockStart += rows
        }
    }
}
