import Pipeline

/// Writes the entries of the output header's `sources` list:
/// `{"producer":P,"seq":S,"rows":[a,b],"message_rows":[c,d]}` per origin, comma-separated, where P is
/// the producer as a JSON string (escaped as `appendJSONString` escapes it) or `null`, and S is the
/// decimal `seq` or `null`.
///
/// Why not `appendRaw`/`appendDecimal` into the header like the other keys: a batch of 1-row
/// messages has one entry per row (256 for `batch.size: 256`), and ~20 `Array.append` calls per
/// entry, each with its own capacity and uniqueness check, were ~6 % of normd's CPU at 16 features
/// × 1-row messages. Here the list's length is bounded first (`bound`), a reused scratch buffer is
/// grown to that bound once (no allocation per batch once warm), the bytes are written with plain
/// stores and the list is appended to the header with one copy. A producer's escaped name is
/// written once per run of entries from the same producer and copied for the rest of the run.
struct SourcesListWriter: Sendable {
    /// Grows to the largest list's bound and is kept: at most `batch.size` entries ×
    /// (`fixedBound` + the longest escaped producer name).
    private var scratch: [UInt8] = []
    /// One producer name as JSON, escaped by `appendJSONString` itself (so the escaping cannot
    /// drift from the rest of the header), once per run of entries from the same producer.
    private var name: [UInt8] = []

    /// Bytes of one entry besides the producer's name, at most: the keys and punctuation (45 with
    /// the separating comma), a `seq` of ≤ 20 digits, two ranges `[a,b]` of two ≤ 20-character
    /// integers (a sign and 19 digits) each.
    static let fixedBound = 45 + 20 + 2 * (3 + 20 + 20)

    /// Appends the entries for `origins` (without the list's brackets) to `text`.
    mutating func append(_ origins: [RowOrigin], to text: inout [UInt8]) {
        guard !origins.isEmpty else { return }
        let bound = bound(of: origins)
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
        let written = scratch.withUnsafeMutableBufferPointer { buffer in
            let out = buffer.baseAddress!
            var at = 0
            // Where the previous entry's producer (as JSON, quotes included) was written, for reuse.
            var previous: (name: String, start: Int, count: Int)?
            // The fields are read in place through a pointer: `let source = origins[index]` copied each
            // `RowOrigin` (through its value witness once the loop changed, ~8 % of HeaderCPU).
            origins.withUnsafeBufferPointer { sources in
                for index in sources.indices {
                    let source = sources.baseAddress! + index
                    if index > 0 { Self.put(0x2C, out, &at) }
                    if let producer = source.pointee.producer {
                        Self.put("{\"producer\":", out, &at)
                        if let previous, previous.name == producer {
                            (out + at).update(from: out + previous.start, count: previous.count)
                            at += previous.count
                        } else {
                            name.removeAll(keepingCapacity: true)
                            name.appendJSONString(producer)
                            name.withUnsafeBufferPointer { (out + at).update(from: $0.baseAddress!, count: $0.count) }
                            previous = (producer, at, name.count)
                            at += name.count
                        }
                        Self.put(",\"seq\":", out, &at)
                    } else {
                        Self.put("{\"producer\":null,\"seq\":", out, &at)
                    }
                    if let seq = source.pointee.seq { Self.putDecimal(seq, out, &at) } else { Self.put("null", out, &at) }
                    let rows = source.pointee.rows, messageRows = source.pointee.messageRows
                    Self.put(",\"rows\":[", out, &at)
                    Self.putDecimal(rows.lowerBound, out, &at)
                    Self.put(0x2C, out, &at)
                    Self.putDecimal(rows.upperBound, out, &at)
                    Self.put("],\"message_rows\":[", out, &at)
                    Self.putDecimal(messageRows.lowerBound, out, &at)
                    Self.put(0x2C, out, &at)
                    Self.putDecimal(messageRows.upperBound, out, &at)
                    Self.put("]}", out, &at)
                }
            }
            precondition(at <= bound, "the sources bound is an upper bound")
            return at
        }
        scratch.withUnsafeBufferPointer { text.append(contentsOf: UnsafeBufferPointer(rebasing: $0[..<written])) }
    }

    /// The most bytes `origins`' entries can take: `fixedBound` each plus each producer's exact
    /// escaped length (escaped once per run of equal names).
    private mutating func bound(of origins: [RowOrigin]) -> Int {
        var total = 0
        var previous: (name: String, length: Int)?
        for index in origins.indices {
            total += Self.fixedBound
            guard let producer = origins[index].producer else {
                total += 4 // null
                continue
            }
            if let previous, previous.name == producer {
                total += previous.length
            } else {
                name.removeAll(keepingCapacity: true)
                name.appendJSONString(producer)
                previous = (producer, name.count)
                total += name.count
            }
        }
        return total
    }

    @inline(__always)
    private static func put(_ byte: UInt8, _ out: UnsafeMutablePointer<UInt8>, _ at: inout Int) {
        out[at] = byte
        at += 1
    }

    @inline(__always)
    private static func put(_ text: StaticString, _ out: UnsafeMutablePointer<UInt8>, _ at: inout Int) {
        (out + at).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        at += text.utf8CodeUnitCount
    }

    /// Decimal digits of `value`, most significant first: the digits are counted, then written from
    /// the last backwards, two per step from `digitPairs` (half the divisions and stores of one digit
    /// per step; `putDecimal` was ~1.3 % of normd's CPU samples at 128 features × 1-row messages, where
    /// every row has an entry with four or five numbers). No intermediate buffer.
    private static func putDecimal(_ value: UInt64, _ out: UnsafeMutablePointer<UInt8>, _ at: inout Int) {
        if value < 10 {
            put(0x30 &+ UInt8(truncatingIfNeeded: value), out, &at)
            return
        }
        let digits = decimalDigits(value)
        let pairs = digitPairs.utf8Start
        var rest = value
        var position = at + digits
        while rest >= 100 {
            let pair = Int(truncatingIfNeeded: rest % 100) &* 2
            rest /= 100
            position -= 2
            out[position] = pairs[pair]
            out[position + 1] = pairs[pair + 1]
        }
        if rest >= 10 {
            let pair = Int(truncatingIfNeeded: rest) &* 2
            out[position - 2] = pairs[pair]
            out[position - 1] = pairs[pair + 1]
        } else {
            out[position - 1] = 0x30 &+ UInt8(truncatingIfNeeded: rest)
        }
        at += digits
    }

    /// How many decimal digits `value` has (1 for 0).
    @inline(__always)
    static func decimalDigits(_ value: UInt64) -> Int {
        var digits = 1
        var scan = value
        while scan >= 100 {
            scan /= 100
            digits += 2
        }
        return scan >= 10 ? digits + 1 : digits
    }

    /// `"00" "01" … "99"`: the two digits of `n` (0…99) are bytes `2n` and `2n + 1`.
    private static var digitPairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    private static func putDecimal(_ value: Int, _ out: UnsafeMutablePointer<UInt8>, _ at: inout Int) {
        if value < 0 { put(0x2D, out, &at) }
        putDecimal(UInt64(value.magnitude), out, &at)
    }
}
