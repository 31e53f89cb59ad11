public import StageKit

/// One message of the sync protocol (Docs/SYNC.md), one ZeroMQ frame, little-endian binary:
///
/// ```
/// "NSY1" kind:u8 rank:u16 group:(u8 length, bytes) step:u64 stage:u16 hash:u64 fingerprint:u64 body
/// ```
/// `step` is the global step the message is about, `hash` the hash of the merged state *before* it
/// (every merged result folded in since the group started), `fingerprint` the sender's chain
/// fingerprint. Bodies: `contribution` and `result` carry moments (`result` first the ranks present);
/// `stale` and `refused` a reason; `snapshot` the ranks present and the statistics as JSON.
///
/// Decoding is bounded and total: any frame that does not parse exactly is refused (`nil`), never a
/// trap, and no length read from the wire allocates more than the frame itself holds.
public struct SyncMessage: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case contribution = 1, result, stale, snapshotRequest, snapshot, refused
    }

    public var kind: Kind
    public var rank: Int
    public var group: String
    public var step: UInt64
    public var stage: Int
    public var hash: UInt64
    public var fingerprint: UInt64
    public var moments: MomentContribution?
    public var members: [Int] = []
    /// `stale`/`refused`: why; `snapshot`: the statistics (JSON of `[StageState]`).
    public var text: [UInt8] = []

    public static let magic: [UInt8] = Array("NSY1".utf8)

    public init(
        kind: Kind, rank: Int, group: String, step: UInt64, stage: Int, hash: UInt64, fingerprint: UInt64,
        moments: MomentContribution? = nil, members: [Int] = [], text: [UInt8] = []
    ) {
        self.kind = kind
        self.rank = rank
        self.group = group
        self.step = step
        self.stage = stage
        self.hash = hash
        self.fingerprint = fingerprint
        self.moments = moments
        self.members = members
        self.text = text
    }

    public func encoded() -> [UInt8] {
        var out = Self.magic
        // One allocation: the header, then the body (moments are 8 bytes a value, 4 vectors at most).
        out.reserveCapacity(48 + group.utf8.count + 2 * members.count + text.count + 8 * 4 * (moments?.features ?? 0))
        out.append(kind.rawValue)
        Self.put(UInt64(rank), bytes: 2, into: &out)
        let name = Array(group.utf8.prefix(255))
        out.append(UInt8(name.count))
        out += name
        Self.put(step, bytes: 8, into: &out)
        Self.put(UInt64(stage), bytes: 2, into: &out)
        Self.put(hash, bytes: 8, into: &out)
        Self.put(fingerprint, bytes: 8, into: &out)
        switch kind {
        case .contribution:
            Self.putMoments(moments!, into: &out)
        case .result:
            Self.putMembers(members, into: &out)
            Self.putMoments(moments!, into: &out)
        case .snapshot:
            Self.putMembers(members, into: &out)
            Self.put(UInt64(text.count), bytes: 8, into: &out)
            out += text
        case .stale, .refused:
            Self.put(UInt64(text.count), bytes: 8, into: &out)
            out += text
        case .snapshotRequest:
            break
        }
        return out
    }

    /// Parses `bytes`; `nil` unless it is exactly one well-formed message with at most
    /// `maxFeatures` features and `maxMembers` members.
    public static func decode(_ bytes: [UInt8], maxFeatures: Int, maxMembers: Int) -> SyncMessage? {
        var reader = ByteReader(bytes: bytes)
        guard reader.take(4) == magic, let kindByte = reader.integer(1), let kind = Kind(rawValue: UInt8(kindByte)),
            let rank = reader.integer(2), let nameLength = reader.integer(1), let name = reader.take(Int(nameLength)),
            let group = String(validating: name, as: UTF8.self),
            let step = reader.integer(8), let stage = reader.integer(2), let hash = reader.integer(8),
            let fingerprint = reader.integer(8)
        else { return nil }
        var message = SyncMessage(
            kind: kind, rank: Int(rank), group: group, step: step, stage: Int(stage), hash: hash,
            fingerprint: fingerprint)
        switch kind {
        case .contribution:
            guard let moments = reader.moments(maxFeatures: maxFeatures) else { return nil }
            message.moments = moments
        case .result:
            guard let members = reader.members(max: maxMembers), let moments = reader.moments(maxFeatures: maxFeatures) else { return nil }
            message.members = members
            message.moments = moments
        case .snapshot:
            guard let members = reader.members(max: maxMembers), let length = reader.integer(8),
                let text = reader.take(Int(clamping: length))
            else { return nil }
            message.members = members
            message.text = text
        case .stale, .refused:
            guard let length = reader.integer(8), let text = reader.take(Int(clamping: length)) else { return nil }
            message.text = text
        case .snapshotRequest:
            break
        }
        return reader.atEnd ? message : nil
    }

    private static func put(_ value: UInt64, bytes: Int, into out: inout [UInt8]) {
        for index in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }

    private static func putMembers(_ members: [Int], into out: inout [UInt8]) {
        put(UInt64(members.count), bytes: 2, into: &out)
        for member in members { put(UInt64(member), bytes: 2, into: &out) }
    }

    private static func putMoments(_ moments: MomentContribution, into out: inout [UInt8]) {
        put(UInt64(bitPattern: moments.count), bytes: 8, into: &out)
        put(UInt64(moments.features), bytes: 4, into: &out)
        out.append(moments.hasExtremes ? 1 : 0)
        putDoubles(moments.mean, into: &out)
        putDoubles(moments.m2, into: &out)
        putDoubles(moments.minimum, into: &out)
        putDoubles(moments.maximum, into: &out)
    }

    /// Each value's little-endian bit pattern: on a little-endian machine that is the array's own
    /// bytes, copied at once (the bulk of a contribution or result; a byte at a time it was a
    /// measurable share of a sync stage).
    private static func putDoubles(_ values: [Double], into out: inout [UInt8]) {
        #if _endian(little)
            values.withUnsafeBytes { out.append(contentsOf: $0) }
        #else
            for value in values { put(value.bitPattern, bytes: 8, into: &out) }
        #endif
    }
}

/// A cursor over a received frame; every read checks the remaining length first.
private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    var atEnd: Bool { offset == bytes.count }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func integer(_ width: Int) -> UInt64? {
        guard width <= bytes.count - offset else { return nil }
        var value: UInt64 = 0
        for index in 0..<width { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        offset += width
        return value
    }

    mutating func members(max: Int) -> [Int]? {
        guard let count = integer(2), Int(count) <= max, Int(count) * 2 <= bytes.count - offset else { return nil }
        var members: [Int] = []
        for _ in 0..<count { members.append(Int(integer(2)!)) }
        return members
    }

    /// `count` little-endian Float64 values, read in one sweep (no per-byte index checks: the
    /// length is checked once, up front).
    mutating func doubles(_ count: Int) -> [Double]? {
        guard count >= 0, count <= (bytes.count - offset) / 8 else { return nil }
        let start = offset
        let values = bytes.withUnsafeBytes { raw in
            [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                for index in 0..<count {
                    let pattern = raw.loadUnaligned(fromByteOffset: start + 8 * index, as: UInt64.self)
                    buffer[index] = Double(bitPattern: UInt64(littleEndian: pattern))
                }
                initialized = count
            }
        }
        offset += 8 * count
        return values
    }

    mutating func moments(maxFeatures: Int) -> MomentContribution? {
        guard let count = integer(8), let features = integer(4), features > 0, Int(features) <= maxFeatures,
            let extremes = integer(1), extremes <= 1
        else { return nil }
        let width = Int(features)
        guard let mean = doubles(width), let m2 = doubles(width) else { return nil }
        var moments = MomentContribution(count: Int64(bitPattern: count), mean: mean, m2: m2)
        if extremes == 1 {
            guard let minimum = doubles(width), let maximum = doubles(width) else { return nil }
            moments.minimum = minimum
            moments.maximum = maximum
        }
        return moments
    }
}

/// FNV-1a over 64 bits: the group's state hash (folded over every merged result) and the chain
/// fingerprint. Not cryptographic — it detects divergence, it does not authenticate (CURVE does).
public struct FNV64: Sendable {
    public private(set) var value: UInt64

    public init(_ seed: UInt64 = 0xCBF2_9CE4_8422_2325) { value = seed }

    public mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }
    }

    /// The 8 bytes of `number`, least significant first (as `add(_: some Sequence<UInt8>)` of its
    /// little-endian bytes, without going through a buffer).
    public mutating func add(_ number: UInt64) {
        var hash = value
        for shift in stride(from: UInt64(0), to: 64, by: 8) {
            hash ^= (number >> shift) & 0xFF
            hash &*= 0x0000_0100_0000_01B3
        }
        value = hash
    }

    public mutating func add(_ moments: MomentContribution) {
        add(UInt64(bitPattern: moments.count))
        for value in moments.mean { add(value.bitPattern) }
        for value in moments.m2 { add(value.bitPattern) }
        for value in moments.minimum { add(value.bitPattern) }
        for value in moments.maximum { add(value.bitPattern) }
    }
}
