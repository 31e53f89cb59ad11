import NpyFormat
import Testing
import WireFormat

/// The tensor header cache (`TensorHeaderCache`) is invisible in results: one decoder fed a stream
/// of headers — most of them the previous one with another `seq`, some changing a byte next to the
/// digits — gives, message by message, exactly what a fresh decoder (full JSON parse) gives,
/// errors included.
@Suite("Tensor codec: header cache")
struct TensorHeaderCacheTests {
    static let headers: [String] = [
        #"{"dtype":"<f4","shape":[1,2],"seq":9}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":10}"#, // one digit more
        #"{"dtype":"<f4","shape":[1,2],"seq":11}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":011}"#, // leading zero: malformed
        #"{"dtype":"<f4","shape":[1,2],"seq":12}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":-12}"#, // negative
        #"{"dtype":"<f4","shape":[1,2],"seq":1.5}"#, // not an integer
        #"{"dtype":"<f4","shape":[1,2],"seq":13}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":1e3}"#, // exponent
        #"{"dtype":"<f4","shape":[1,2],"seq":14}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":}"#, // no digits
        #"{"dtype":"<f4","shape":[1,2],"seq":9999999999999999999}"#, // 19 digits
        #"{"dtype":"<f4","shape":[1,2],"seq":18446744073709551615}"#, // 2^64 − 1: 20 digits, full parse
        #"{"dtype":"<f4","shape":[1,2],"seq":18446744073709551616}"#, // 2^64: refused
        #"{"dtype":"<f4","shape":[1,2],"seq":15}"#,
        #"{"dtype":"<f4","shape":[2,2],"seq":16}"#, // shape changes (payload of 1 row: refused)
        #"{"dtype":"<f8","shape":[1,2],"seq":17}"#, // dtype changes (payload of float32: refused)
        #"{"dtype":"<f4","shape":[1,2],"seq":18,"producer":"a"}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":19,"producer":"a"}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":20,"producer":"b"}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":21 ,"producer":"b"}"#, // whitespace after the digits
        #"{"dtype":"<f4","shape":[1,2],"seq":22,"seq":5,"producer":"b"}"#, // repeated key: last wins
        #"{"dtype":"<f4","shape":[1,2],"seq":22,"seq":6,"producer":"b"}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":23,"seq":6,"producer":"b"}"#, // the first seq changes
        #"{"dtype":"<f4","shape":[1,2],"seq":null}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":null}"#,
        #"{"dtype":"<f4","shape":[1,2]}"#,
        #"{"dtype":"<f4","shape":[1,2]}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":7}x"#, // trailing garbage
        #"{"dtype":"<f4","shape":[1,2],"seq":8}"#,
        #"{"dtype":"<f4","shape":[1,2],"seq":8"#, // truncated
        #"{"dtype":"<f4","shape":[1,2],"seq":99}"#,
    ]

    static func describe(_ result: Result<DecodedRows, WireError>) -> String {
        switch result {
        case .success(let rows): "ok \(rows)"
        case .failure(let error): "error \(error.reason): \(error)"
        }
    }

    @Test("one decoder over a stream == a fresh decoder per message, results and errors")
    func sameAsFullParse() {
        var cached = MessageDecoder(codec: .tensor, features: 2)
        for (index, header) in Self.headers.enumerated() {
            let frames = [utf8(header), f4([Float(index), -1])]
            var fresh = MessageDecoder(codec: .tensor, features: 2)
            let expected = Self.describe(fresh.decode(frames, misalignment: index % 3))
            #expect(Self.describe(cached.decode(frames, misalignment: index % 3)) == expected, "header \(index): \(header)")
        }
    }

    @Test("a header longer than the cache keeps (512 bytes) still decodes, message after message")
    func longHeader() {
        let padding = String(repeating: " ", count: 600)
        var decoder = MessageDecoder(codec: .tensor, features: 2)
        for seq in [1, 2, 10] {
            let result = Self.describe(decoder.decode([utf8(#"{"dtype":"<f4",\#(padding)"shape":[1,2],"seq":\#(seq)}"#), f4([1, 2])]))
            #expect(result == "ok \(DecodedRows(rows: 1, features: 2, elementType: .float32, values: [1, 2], seq: UInt64(seq)))")
        }
    }
}
