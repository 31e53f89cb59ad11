/// Whether little-endian Float32 values are all finite, tested on their bits — alone, or in the same
/// pass as the copy of the rows into a batch.
///
/// A Float32 is NaN or ±∞ exactly when its eight exponent bits are all ones:
/// `bits & 0x7F80_0000 == 0x7F80_0000`. With the sign cleared, `m = bits & 0x7FFF_FFFF`, that is
/// `m ≥ 0x7F80_0000`, i.e. `m + 0x0080_0000 ≥ 2³¹`: **bit 31 of `(bits & 0x7FFF_FFFF) &+ 0x0080_0000`
/// is set exactly for the non-finite values**, and the sum cannot wrap (`m ≤ 0x7FFF_FFFF`, so the sum
/// is at most `0x807F_FFFF`). OR-ing those sums over all values and testing bit 31 once at the end
/// answers "is any value non-finite?" with no compare and no branch per value.
///
/// Why the loops are shaped this way: baseline x86-64 (SSE2, what the build targets) has no unsigned
/// 32-bit compare, but AND, ADD and OR on four lanes are one instruction each. Sixteen values per
/// iteration (`SIMD16<UInt32>`: four 128-bit registers) keep four independent OR chains in flight;
/// loads and stores are unaligned (a small ZeroMQ frame starts at any address). The copying variant
/// stores each loaded vector, so a message's rows are read once for both the check and the copy into
/// the batch, instead of a check pass and then a `memcpy` pass.
enum Float32Finiteness {
    private typealias Lanes = SIMD16<UInt32>
    private static let width = 16

    /// `(bits & 0x7FFF_FFFF) &+ 0x0080_0000`, per lane: bit 31 set exactly for NaN and ±∞.
    @inline(__always)
    private static func flags(_ bits: Lanes) -> Lanes { (bits & 0x7FFF_FFFF) &+ 0x0080_0000 }

    @inline(__always)
    private static func flag(_ bits: UInt32) -> UInt32 { (bits & 0x7FFF_FFFF) &+ 0x0080_0000 }

    /// Whether bit 31 is clear in every lane and in `rest`: the lanes OR-folded in halves (16 → 8 →
    /// 4 → 2), three vector ORs and one scalar. (`lanes.max()` here compiled to ~30 instructions: SSE2
    /// has no unsigned 32-bit max, so each step was emulated with sign flips and compares.)
    @inline(__always)
    private static func noneFlagged(_ lanes: Lanes, _ rest: UInt32) -> Bool {
        let eight = lanes.lowHalf | lanes.highHalf
        let four = eight.lowHalf | eight.highHalf
        let two = four.lowHalf | four.highHalf
        return (two[0] | two[1] | rest) & 0x8000_0000 == 0
    }

    /// Whether none of the `count` values at `source` (any alignment) is NaN or ±∞.
    static func allFinite(_ source: UnsafeRawPointer, count: Int) -> Bool {
        var lanes = Lanes.zero
        var index = 0
        while index &+ width <= count {
            lanes |= flags(source.loadUnaligned(fromByteOffset: index &* 4, as: Lanes.self))
            index &+= width
        }
        var rest: UInt32 = 0
        while index < count {
            rest |= flag(source.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
            index &+= 1
        }
        return noneFlagged(lanes, rest)
    }

    /// Copies `count` values from `source` to `target` (either at any alignment; the ranges must not
    /// overlap) and returns whether none of them is NaN or ±∞. All `count` values are copied either way.
    static func copyAllFinite(from source: UnsafeRawPointer, to target: UnsafeMutableRawPointer, count: Int) -> Bool {
        var lanes = Lanes.zero
        var index = 0
        while index &+ width <= count {
            let bits = source.loadUnaligned(fromByteOffset: index &* 4, as: Lanes.self)
            target.storeBytes(of: bits, toByteOffset: index &* 4, as: Lanes.self)
            lanes |= flags(bits)
            index &+= width
        }
        var rest: UInt32 = 0
        while index < count {
            let bits = source.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)
            target.storeBytes(of: bits, toByteOffset: index &* 4, as: UInt32.self)
            rest |= flag(bits)
            index &+= 1
        }
        return noneFlagged(lanes, rest)
    }

    /// Converts `count` little-endian Float64 values at `source` (any alignment) to Float32 into
    /// `target` and returns whether every converted value is finite — as Float32, so a float64 beyond
    /// ±3.4e38, which becomes ∞, counts as non-finite, as `DecodedMessage.isRowFinite` says.
    static func convertAllFinite(fromFloat64 source: UnsafeRawPointer, to target: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        var rest: UInt32 = 0
        for index in 0..<count {
            let value = Float(source.loadUnaligned(fromByteOffset: index &* 8, as: Double.self))
            target[index] = value
            rest |= flag(value.bitPattern)
        }
        return rest & 0x8000_0000 == 0
    }
}
