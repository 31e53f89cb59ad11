import Testing
import WireFormat

@Suite("Tensor codec: every rejection names what is wrong")
struct TensorErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var header: String
        var payload: [UInt8]
        var message: String
        var reason: String
        var testDescription: String { reason + ": " + message }
    }

    static let cases: [Case] = [
        Case(
            header: #"[1, 2]"#, payload: [],
            message: #"malformed header: expected a JSON object '{', found '[' at byte 0 in [1, 2]"#, reason: "malformed_header"),
        Case(
            header: "", payload: [],
            message: #"malformed header: expected a JSON object '{', found the end at byte 0 in (empty frame)"#, reason: "malformed_header"),
        Case(
            header: #"{"dtype": "float32" "shape": [4]}"#, payload: [],
            message: #"malformed header: expected ',' or '}', found '"' at byte 20 in {"dtype": "float32" "shape": [4]}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "float32", "shape": [4]} x"#, payload: [],
            message: #"malformed header: expected the end of the text, found 'x' at byte 35 in {"dtype": "float32", "shape": [4]} x"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "float32", "shape": [4], "x": [1, 2}"#, payload: [],
            message: #"malformed header: expected ',' or ']', found '}' at byte 45 in {"dtype": "float32", "shape": [4], "x": [1, 2}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "float32", "shape": [4], "x": "abc"#, payload: [],
            message: #"malformed header: unterminated string starting at byte 40 in {"dtype": "float32", "shape": [4], "x": "abc"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "float32", "shape": [4], "x": "a\qb"}"#, payload: [],
            message:
                #"malformed header: expected an escape character after '\', found 'q' at byte 43 in {"dtype": "float32", "shape": [4], "x": "a\qb"}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "float32", "shape": [4], "x": 01}"#, payload: [],
            message: #"malformed header: expected ',' or '}', found '1' at byte 41 in {"dtype": "float32", "shape": [4], "x": 01}"#,
            reason: "malformed_header"),
        Case(
            header: "{\"dtype\": \"float32\", \"shape\": [4], \"x\": \"a\u{01}\"}", payload: [],
            message:
                #"malformed header: expected a printable character in a string (escape control characters), found byte 0x1 at byte 42 in {"dtype": "float32", "shape": [4], "x": "a\x01"}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"shape": [4]}"#, payload: [],
            message: #"malformed header: no "dtype" key in {"shape": [4]}"#, reason: "malformed_header"),
        Case(
            header: #"{"dtype": "<f4"}"#, payload: [],
            message: #"malformed header: no "shape" key in {"dtype": "<f4"}"#, reason: "malformed_header"),
        Case(
            header: #"{"dtype": 4, "shape": [4]}"#, payload: [],
            message: #"malformed header: expected "dtype" to be a string, found '4' at byte 10 in {"dtype": 4, "shape": [4]}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "<f4", "shape": [4], "seq": -1}"#, payload: [],
            message:
                #"malformed header: expected "seq" to be a non-negative integer below 2^64, found '-' at byte 38 in {"dtype": "<f4", "shape": [4], "seq": -1}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "<f4", "shape": [4], "seq": "7"}"#, payload: [],
            message:
                #"malformed header: expected "seq" to be a non-negative integer, found '"' at byte 38 in {"dtype": "<f4", "shape": [4], "seq": "7"}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "<f4", "shape": [4], "producer": 3}"#, payload: [],
            message: #"malformed header: expected a string, found '3' at byte 43 in {"dtype": "<f4", "shape": [4], "producer": 3}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "int64", "shape": [4]}"#, payload: [],
            message: #"dtype "int64" is not supported; send float32 ("<f4") or float64 ("<f8")"#, reason: "dtype"),
        Case(
            header: #"{"dtype": ">f4", "shape": [4]}"#, payload: [],
            message: #"dtype ">f4" is big-endian; send little-endian "<f4" or "<f8" (a.astype("<f4"))"#, reason: "dtype"),
        Case(
            header: #"{"dtype": "<f4", "shape": [2, 3, 4]}"#, payload: [],
            message: #"bad shape: shape [2, 3, 4] has 3 dimensions; send [rows, features] or [features]"#, reason: "shape"),
        Case(
            header: #"{"dtype": "<f4", "shape": []}"#, payload: [],
            message: #"bad shape: shape [] has 0 dimensions; send [rows, features] or [features]"#, reason: "shape"),
        Case(
            header: #"{"dtype": "<f4", "shape": [2.0, 8]}"#, payload: [],
            message: #"bad shape: dimension 2.0 is not a non-negative integer below 2^31"#, reason: "shape"),
        Case(
            header: #"{"dtype": "<f4", "shape": [-2, 8]}"#, payload: [],
            message: #"bad shape: dimension -2 is not a non-negative integer below 2^31"#, reason: "shape"),
        Case(
            header: #"{"dtype": "<f4", "shape": "2x8"}"#, payload: [],
            message: #"malformed header: expected "shape" to be an array, found '"' at byte 26 in {"dtype": "<f4", "shape": "2x8"}"#,
            reason: "malformed_header"),
        Case(
            header: #"{"dtype": "<f4", "shape": [2, 7]}"#, payload: f4(Array(repeating: 0, count: 14)),
            message: "rows have 7 features, the pipeline expects 8", reason: "wrong_width"),
        Case(
            header: #"{"dtype": "<f4", "shape": [2, 8]}"#, payload: Array(repeating: 0, count: 100),
            message: "payload is 100 bytes, header shape [2, 8] of <f4 needs 64", reason: "payload_size"),
        Case(
            header: #"{"dtype": "float64", "shape": [8]}"#, payload: f4(Array(repeating: 0, count: 8)),
            message: "payload is 32 bytes, header shape [8] of <f8 needs 64", reason: "payload_size"),
    ]

    @Test("header and payload errors", arguments: cases)
    func rejects(_ testCase: Case) {
        var decoder = MessageDecoder(codec: .tensor, features: 8)
        let error = decoder.failure([utf8(testCase.header), testCase.payload])
        #expect(error?.description == testCase.message)
        #expect(error?.reason == testCase.reason)
    }

    @Test("frame counts other than 2 or 3 (with a topic) are rejected")
    func frameCount() {
        var decoder = MessageDecoder(codec: .tensor, features: 1)
        let header = utf8(#"{"dtype":"<f4","shape":[1]}"#)
        #expect(decoder.failure([header]) == .frameCount(expected: 2, got: 1))
        #expect(decoder.failure([header]).map(\.description) == "message has 1 frame, expected 2 (or 3 with a leading topic frame)")
        #expect(decoder.failure([[], [], header, f4([1])])?.description == "message has 4 frames, expected 2 (or 3 with a leading topic frame)")
        #expect(decoder.failure([])?.reason == "frame_count")
        var npy = MessageDecoder(codec: .npy, features: 1)
        #expect(npy.failure([[], [], []])?.description == "message has 3 frames, expected 1 (or 2 with a leading topic frame)")
    }

    @Test("a payload frame sent as the header is shown escaped and cut short")
    func binaryHeader() {
        var decoder = MessageDecoder(features: 1)
        let binary: [UInt8] = [0x00, 0x00, 0x80, 0x3F] + Array(repeating: 0x41, count: 200)
        let error = decoder.failure([binary, []])
        #expect(
            error?.description == #"malformed header: expected a JSON object '{', found byte 0x0 at byte 0 in \x00\x00"#
                + "\u{FFFD}?" + String(repeating: "A", count: 124) + "…(204 bytes)")
    }

    @Test("nesting deeper than 128 levels in an unknown key is rejected, not recursed into")
    func deepNesting() {
        var decoder = MessageDecoder(features: 1)
        let header = #"{"dtype":"<f4","shape":[1],"x":"# + String(repeating: "[", count: 200) + "}"
        let error = decoder.failure([utf8(header), f4([1])])
        #expect(
            error?.description == "malformed header: expected nesting of at most 128 levels, found '[' at byte 159 in "
                + header.prefix(128) + "…(\(header.utf8.count) bytes)")
    }
}
