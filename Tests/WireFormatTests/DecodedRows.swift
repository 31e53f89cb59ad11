import NpyFormat
import WireFormat

/// A decoded message copied out of its frames, so tests can compare whole results.
struct DecodedRows: Equatable, CustomStringConvertible {
    var rows: Int
    var features: Int
    var elementType: NpyElementType
    var values: [Float]
    var seq: UInt64?
    var producer: String?
    var topic: String?

    var description: String {
        "\(rows)×\(features) \(elementType.rawValue) seq=\(seq.map(String.init) ?? "nil") producer=\(producer ?? "nil") topic=\(topic ?? "nil") \(values)"
    }
}

extension MessageDecoder {
    /// Decodes `frames`, each copied to an allocation `misalignment` bytes past a 16-byte boundary
    /// (ZeroMQ gives no alignment guarantee for small messages), and copies the rows out.
    mutating func decode(_ frames: [[UInt8]], misalignment: Int = 0) -> Result<DecodedRows, WireError> {
        let buffers = frames.map { frame in
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count + misalignment, alignment: 16)
            let slice = UnsafeMutableRawBufferPointer(rebasing: raw[misalignment...])
            slice.copyBytes(from: frame)
            return (raw, UnsafeRawBufferPointer(slice))
        }
        defer { buffers.forEach { $0.0.deallocate() } }
        return buffers.map(\.1).withUnsafeBufferPointer { pointers in
            Result { () throws(WireError) -> DecodedRows in
                let message = try decode(pointers)
                var values = [Float](repeating: .nan, count: message.rows * message.features)
                values.withUnsafeMutableBufferPointer { message.copyRows(0..<message.rows, into: $0) }
                return DecodedRows(
                    rows: message.rows, features: message.features, elementType: message.elementType,
                    values: values, seq: message.seq, producer: message.producer, topic: message.topicText)
            }
        }
    }

    /// The error decoding `frames` throws (nil when it succeeds).
    mutating func failure(_ frames: [[UInt8]]) -> WireError? {
        if case .failure(let error) = decode(frames) { return error }
        return nil
    }
}

/// Bytes of a string (for header frames written by hand).
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Little-endian bytes of Float32 values.
func f4(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

/// Little-endian bytes of Float64 values.
func f8(_ values: [Double]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }
