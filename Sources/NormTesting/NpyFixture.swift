public import Foundation

/// Minimal `.npy` reading and writing for the tests, independent of normd's own NpyFormat so a bug
/// there cannot hide behind the same bug here.
public enum NpyFixture {
    /// Writes a C-order `<f4` (rows, columns) array.
    public static func writeFloat32(_ rows: [[Float]], columns: Int, to path: String) throws {
        try write(descr: "<f4", shape: "(\(rows.count), \(columns))", payload: rows.flatMap { $0 }.withUnsafeBytes { Data($0) }, to: path)
    }

    public static func write(descr: String, shape: String, fortran: Bool = false, payload: Data, to path: String) throws {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(Data(header.utf8))
        data.append(payload)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Reads a `<f4` 2-D array written by normd: (rows, columns, row-major values).
    public static func readFloat32(_ path: String) throws -> (rows: Int, columns: Int, values: [Float]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, bytes[6] == 1 else { throw FixtureError("\(path): not a v1 .npy") }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False"),
            let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")")
        else { throw FixtureError("\(path): unexpected header \(header)") }
        let dims = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard dims.count == 2 else { throw FixtureError("\(path): not 2-D: \(header)") }
        let start = 10 + headerLength
        guard bytes.count == start + dims[0] * dims[1] * 4 else { throw FixtureError("\(path): wrong payload size") }
        let values = bytes[start...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (dims[0], dims[1], values)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
