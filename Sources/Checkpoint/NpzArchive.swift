internal import NpyFormat

/// Writes NumPy's `.npz` format: an uncompressed ("stored") ZIP archive of `.npy` members, which
/// `np.load(path)[key]` reads. Written by hand (about 100 lines with CRC-32 already here) rather than
/// adding a ZIP dependency; no ZIP64, so the archive must stay below 4 GiB.
public struct NpzArchive {
    /// An array NumPy can hold: 1-D `<f8` statistics or 0-d `<i8` counters.
    public enum Array: Sendable, Equatable {
        case float64([Double])
        case int64(Int64)
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case tooLarge(bytes: Int)
        public var description: String {
            switch self {
            case .tooLarge(let bytes): "the archive would be \(bytes) bytes; .npz without ZIP64 holds at most 4 GiB"
            }
        }
    }

    private var bytes: [UInt8] = []
    private var central: [UInt8] = []
    private var count = 0

    public init() {}

    /// Adds `array` as member `key + ".npy"` (NumPy strips the suffix: the key is `np.load(f)[key]`).
    public mutating func add(_ key: String, _ array: Array) {
        let name = Swift.Array((key + ".npy").utf8)
        let data = Self.npy(array)
        let crc = CRC32.checksum(data)
        let offset = UInt32(truncatingIfNeeded: bytes.count)
        // Local file header: version 2.0, no flags, method 0 (stored), DOS date 1980-01-01 00:00.
        bytes.le32(0x0403_4B50); bytes.le16(20); bytes.le16(0); bytes.le16(0); bytes.le16(0); bytes.le16(0x21)
        bytes.le32(crc); bytes.le32(UInt32(data.count)); bytes.le32(UInt32(data.count))
        bytes.le16(UInt16(name.count)); bytes.le16(0)
        bytes += name
        bytes += data
        // Central directory entry pointing back at it.
        central.le32(0x0201_4B50); central.le16(20); central.le16(20); central.le16(0); central.le16(0)
        central.le16(0); central.le16(0x21)
        central.le32(crc); central.le32(UInt32(data.count)); central.le32(UInt32(data.count))
        central.le16(UInt16(name.count)); central.le16(0); central.le16(0); central.le16(0); central.le16(0)
        central.le32(0); central.le32(offset)
        central += name
        count += 1
    }

    /// The finished archive.
    public func encoded() throws(Failure) -> [UInt8] {
        let total = bytes.count + central.count + 22
        guard total < Int(UInt32.max), count < Int(UInt16.max) else { throw .tooLarge(bytes: total) }
        var out = bytes
        out += central
        out.le32(0x0605_4B50); out.le16(0); out.le16(0); out.le16(UInt16(count)); out.le16(UInt16(count))
        out.le32(UInt32(central.count)); out.le32(UInt32(bytes.count)); out.le16(0)
        return out
    }

    /// A `.npy` (format 1.0) of `array`, header padded so the data starts 64-byte aligned as NumPy writes it.
    static func npy(_ array: Array) -> [UInt8] {
        var out =
            switch array {
            case .float64(let values): NpyHeader.encode(shape: [values.count], elementType: .float64)
            case .int64: NpyHeader.encode(shape: [], descr: "<i8")
            }
        switch array {
        case .float64(let values): for value in values { out.le64(value.bitPattern) }
        case .int64(let value): out.le64(UInt64(bitPattern: value))
        }
        return out
    }
}

extension [UInt8] {
    fileprivate mutating func le16(_ value: UInt16) { append(UInt8(value & 0xFF)); append(UInt8(value >> 8)) }
    fileprivate mutating func le32(_ value: UInt32) { for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((value >> UInt32(shift)) & 0xFF)) } }
    fileprivate mutating func le64(_ value: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { append(UInt8((value >> UInt64(shift)) & 0xFF)) } }
}
