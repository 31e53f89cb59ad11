import NpyFormat

/// The last tensor header this input decoded, so the next one — from a producer that sends the same
/// layout message after message — is recognised by comparing bytes instead of scanning JSON.
///
/// A producer's headers differ only in `seq`: `{"dtype":"<f4","shape":[1,128],"seq":17}`, then
/// `…"seq":18}`. A header is a **hit** when its bytes equal the cached ones everywhere except the
/// digits of the (last) `seq` value, which must still be a plain JSON integer: one or more digits,
/// no leading zero, at most 19 (so below 2^64 without an overflow check). Everything the full parse
/// derived from the other bytes — dtype, shape, producer name, key order, duplicate keys, whitespace
/// — is then the same, and only the digits are read. Why this is exact: the cached header was
/// accepted by the full parser with that `seq` token a plain integer ending at a byte that cannot
/// continue a number (`scanNumber` stopped there); the new digits are followed by that same byte,
/// so the full parser would read the same tokens with the new value. Anything else (another length
/// of prefix or suffix, a leading zero, 20 digits, a `seq` that was `null` or absent and any byte
/// differs) is a **miss**: the full parser runs and its result replaces the cache.
///
/// Bounded: headers longer than `maximumBytes` are never cached (a peer chooses the size; the full
/// parse handles them). One cache per input, so interleaved producers on one input alternate hits
/// and misses, each miss costing what every message cost before.
///
/// Shaped for the hit, which is every message of a steady producer: `lookup` returns only the new
/// `seq` (a small enum), and the decoder reads the cached fields in place — returning the whole
/// cached header and producer by value copied a ~100-byte struct several times per message and
/// retained and released the producer's String (profile: ~5 % of normd's CPU at 16 features × 1 row).
struct TensorHeaderCache: Sendable {
    /// What `lookup` found.
    enum Lookup {
        case miss
        /// The cached header, with this `seq` (nil: the cached header had no numeric `seq`, and the
        /// bytes are equal).
        case hit(seq: UInt64?)
    }

    static let maximumBytes = 512
    private var bytes: [UInt8] = []
    /// The cached header as the full parser returned it; nil when nothing is cached.
    private(set) var header: TensorHeader?
    /// The cached header's row count and element type (what a hit needs), kept apart from `header` so
    /// that a hit reads them without copying the whole header.
    private(set) var rows = 0
    private(set) var elementType = NpyElementType.float32
    /// The cached header's producer, as decoded.
    private(set) var producer: String?
    /// Where the cached `seq` digits are in `bytes`; nil: the header had no numeric `seq`.
    private var seqDigits: Range<Int>?

    /// Whether `frame` matches the cached header but for the `seq` digits, and its `seq` if so.
    func lookup(_ frame: UnsafeRawBufferPointer) -> Lookup {
        guard header != nil else { return .miss }
        return bytes.withUnsafeBytes { old -> Lookup in
            guard let digits = seqDigits else {
                return frame.count == old.count && Self.equal(frame, 0, old, 0, count: old.count) ? .hit(seq: nil) : .miss
            }
            let prefix = digits.lowerBound, suffix = old.count - digits.upperBound
            guard frame.count > prefix + suffix, Self.equal(frame, 0, old, 0, count: prefix) else { return .miss }
            var end = prefix, value: UInt64 = 0
            while end < frame.count, end - prefix < 19 {
                let digit = frame[end] &- 0x30
                guard digit < 10 else { break }
                value = value &* 10 &+ UInt64(digit)
                end += 1
            }
            let count = end - prefix
            guard count >= 1, count == 1 || frame[prefix] != 0x30, frame.count - end == suffix,
                Self.equal(frame, end, old, digits.upperBound, count: suffix)
            else { return .miss }
            return .hit(seq: value)
        }
    }

    /// Caches a header the full parser accepted (`producer` as decoded), unless it is too long.
    mutating func store(_ frame: UnsafeRawBufferPointer, _ parsed: TensorHeader, producer: String?) {
        guard frame.count <= Self.maximumBytes else {
            header = nil
            self.producer = nil
            return
        }
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: frame)
        seqDigits = parsed.seqDigits
        header = parsed
        rows = parsed.rows
        elementType = parsed.elementType
        self.producer = producer
    }

    /// The cached header's shape as it was written (for a payload size error); `[]` when nothing is cached.
    var shape: [Int] { header?.shape ?? [] }

    /// Whether `count` bytes of `a` from `i` equal those of `b` from `j`: eight at a time, then the rest.
    private static func equal(_ a: UnsafeRawBufferPointer, _ i: Int, _ b: UnsafeRawBufferPointer, _ j: Int, count: Int) -> Bool {
        guard count > 0 else { return true }
        let p = a.baseAddress! + i, q = b.baseAddress! + j
        var offset = 0
        while offset + 8 <= count {
            guard p.loadUnaligned(fromByteOffset: offset, as: UInt64.self) == q.loadUnaligned(fromByteOffset: offset, as: UInt64.self) else {
                return false
            }
            offset += 8
        }
        while offset < count {
            guard p.load(fromByteOffset: offset, as: UInt8.self) == q.load(fromByteOffset: offset, as: UInt8.self) else { return false }
            offset += 1
        }
        return true
    }
}
