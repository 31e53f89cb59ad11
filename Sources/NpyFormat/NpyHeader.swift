/// The element types normd reads from `.npy` data. Data on the wire and in output files is `<f4`;
/// `<f8` is accepted because NumPy's default float is float64 and users should not have to cast.
public enum NpyElementType: String, Sendable, Equatable {
    case float32 = "<f4"
    case float64 = "<f8"

    public var byteCount: Int { self == .float32 ? 4 : 8 }
}

/// The header of a `.npy` array (format versions 1.0–3.0), as NumPy's `np.save` writes it.
public struct NpyHeader: Sendable, Equatable {
    public var elementType: NpyElementType
    public var fortranOrder: Bool
    public var shape: [Int]
    /// Offset of the first data byte from the start of the file.
    public var dataOffset: Int

    /// The product of `shape`, or `nil` when it overflows `Int` (a header may claim any shape).
    public var elementCount: Int? {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // "\x93NUMPY"

    /// Parses the header at the start of `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(NpyError) -> NpyHeader {
        guard bytes.count >= 10, bytes.prefix(6).elementsEqual(magic) else { throw .notNpy }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .truncated(expectedBytes: 12, actualBytes: bytes.count) }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw .unsupportedVersion(major: Int(major))
        }
        guard bytes.count >= headerStart + headerLength else {
            throw .truncated(expectedBytes: headerStart + headerLength, actualBytes: bytes.count)
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[headerStart..<(headerStart + headerLength)]), as: UTF8.self)
        let dictionary = try NpyHeaderDictionary(text)
        guard let descr = dictionary.string("descr") else { throw .malformedHeader("no 'descr' in \(text.trimmed)") }
        let elementType: NpyElementType
        switch descr {
        case "<f4", "=f4": elementType = .float32
        case "<f8", "=f8": elementType = .float64
        case ">f4", ">f8": throw .unsupportedElementType("\(descr) (big-endian; save with '<f4' or '<f8')")
        default: throw .unsupportedElementType(descr)
        }
        guard let fortran = dictionary.bool("fortran_order") else { throw .malformedHeader("no 'fortran_order' in \(text.trimmed)") }
        guard let shape = dictionary.tuple("shape") else { throw .malformedHeader("no 'shape' in \(text.trimmed)") }
        return NpyHeader(elementType: elementType, fortranOrder: fortran, shape: shape, dataOffset: headerStart + headerLength)
    }

    /// Header bytes for a C-order `<f4` array of `shape`, padded so the data starts 64-byte aligned
    /// (what `np.save` does, so `np.load(mmap_mode=...)` stays aligned).
    public static func encode(shape: [Int], elementType: NpyElementType = .float32) -> [UInt8] {
        encode(shape: shape, descr: elementType.rawValue)
    }

    /// Header bytes for a C-order array of `shape` whose dtype is `descr` (e.g. `"<i8"`, which
    /// normd writes into `.npz` checkpoints but never reads as data); `shape` `[]` is a scalar.
    public static func encode(shape: [Int], descr: String) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dictionary = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + dictionary.utf8.count + 1
        dictionary += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = dictionary.utf8.count
        return magic + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(dictionary.utf8)
    }
}

private extension String {
    var trimmed: String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\n" { s.removeLast() }
        return String(s)
    }
}

/// The Python dict literal of a `.npy` header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
/// Only the three keys NumPy writes are understood; this is not a Python parser.
struct NpyHeaderDictionary {
    private var strings: [String: String] = [:]
    private var bools: [String: Bool] = [:]
    private var tuples: [String: [Int]] = [:]

    init(_ text: String) throws(NpyError) {
        var scanner = Array(text.utf8)[...]
        func skipSpace() { while let c = scanner.first, c == 0x20 || c == 0x0A || c == 0x09 { scanner.removeFirst() } }
        func expect(_ byte: UInt8) throws(NpyError) {
            skipSpace()
            guard scanner.first == byte else { throw .malformedHeader(text) }
            scanner.removeFirst()
        }
        func quoted() throws(NpyError) -> String {
            skipSpace()
            guard let quote = scanner.first, quote == 0x27 || quote == 0x22 else { throw .malformedHeader(text) }
            scanner.removeFirst()
            guard let end = scanner.firstIndex(of: quote) else { throw .malformedHeader(text) }
            let value = String(decoding: scanner[scanner.startIndex..<end], as: UTF8.self)
            scanner = scanner[(end + 1)...]
            return value
        }
        try expect(0x7B) // {
        while true {
            skipSpace()
            if scanner.first == 0x7D { break } // }
            let key = try quoted()
            try expect(0x3A) // :
            skipSpace()
            if scanner.first == 0x27 || scanner.first == 0x22 {
                strings[key] = try quoted()
            } else if scanner.starts(with: "True".utf8) {
                bools[key] = true
                scanner = scanner.dropFirst(4)
            } else if scanner.starts(with: "False".utf8) {
                bools[key] = false
                scanner = scanner.dropFirst(5)
            } else if scanner.first == 0x28 { // (
                scanner.removeFirst()
                guard let end = scanner.firstIndex(of: 0x29) else { throw .malformedHeader(text) }
                let inner = String(decoding: scanner[scanner.startIndex..<end], as: UTF8.self)
                scanner = scanner[(end + 1)...]
                var dims: [Int] = []
                for part in inner.split(separator: ",") {
                    let digits = part.filter { $0 != " " && $0 != "L" }
                    if digits.isEmpty { continue }
                    guard let dim = Int(digits), dim >= 0 else { throw .malformedHeader(text) }
                    dims.append(dim)
                }
                tuples[key] = dims
            } else {
                throw .malformedHeader(text)
            }
            skipSpace()
            if scanner.first == 0x2C { scanner.removeFirst() } // ,
        }
    }

    func string(_ key: String) -> String? { strings[key] }
    func bool(_ key: String) -> Bool? { bools[key] }
    func tuple(_ key: String) -> [Int]? { tuples[key] }
}
