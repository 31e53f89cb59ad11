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
struct TensorHeaderCache: Sendable {
    /// What a hit returns: the cached header with the new `seq`, and its producer as decoded.
    struct Hit {
        var header: TensorHeader
        var producer: String?
    }

    static let maximumBytes = 512
    private var bytes: [UInt8] = []
    private var hit: Hit?
    /// Where the cached `seq` digits are in `bytes`; nil: the header had no numeric `seq`.
    private var seqDigits: Range<Int>?

    /// The header `frame` holds, if it matches the cached one but for the `seq` digits.
    func lookup(_ frame: UnsafeRawBufferPointer) -> Hit? {
        guard var hit else { return nil }
        return bytes.withUnsafeBytes { old -> Hit? in
            guard let digits = seqDigits else {
                return frame.count == old.count && Self.equal(frame, 0, old, 0, count: old.count) ? hit : nil
            }
            let prefix = digits.lowerBound, suffix = old.count - digits.upperBound
            guard frame.count > prefix + suffix, Self.equal(frame, 0, old, 0, count: prefix) else { return nil }
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
            else { return nil }
            hit.header.seq = value
            return hit
        }
    }

    /// Caches a header the full parser accepted (`producer` as decoded), unless it is too long.
    mutating func store(_ frame: UnsafeRawBufferPointer, _ parsed: TensorHeader, producer: String?) {
        guard frame.count <= Self.maximumBytes else {
            hit = nil
            return
        }
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: frame)
        seqDigits = parsed.seqDigits
        hit = Hit(header: parsed, producer: producer)
    }

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
