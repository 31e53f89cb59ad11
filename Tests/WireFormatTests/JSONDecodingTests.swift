import NpyFormat
import Testing
import WireFormat

@Suite("JSON codec: arrays of numbers, arrays of rows, {\"data\": …}")
struct JSONDecodingTests {
    /// Frames from Python's `json.dumps(value)`.
    static func dumped(_ value: String) throws -> [[UInt8]] {
        try Python.frames("frames = [json.dumps(\(value)).encode()]")
    }

    @Test("a flat array is one row; numbers are parsed as Double, then rounded to Float32")
    func oneRow() throws {
        var decoder = MessageDecoder(codec: .json, features: 4)
        let frames = try Self.dumped("[0.1, -2, 3e-5, 16777217]")
        #expect(frames[0] == utf8("[0.1, -2, 3e-05, 16777217]"))
        #expect(
            try decoder.decode(frames).get()
                == DecodedRows(rows: 1, features: 4, elementType: .float32, values: [Float(0.1), -2, Float(3e-5), 16_777_216]))
    }

    @Test("an array of rows, with a topic frame")
    func rows() throws {
        var decoder = MessageDecoder(codec: .json, features: 2)
        let frames = try Python.frames("frames = [b'topic', json.dumps(np.arange(6.0).reshape(3, 2).tolist()).encode()]")
        #expect(
            try decoder.decode(frames).get()
                == DecodedRows(rows: 3, features: 2, elementType: .float32, values: [0, 1, 2, 3, 4, 5], topic: "topic"))
    }

    @Test("an object with data, seq, producer and unknown keys")
    func object() throws {
        var decoder = MessageDecoder(codec: .json, features: 2)
        let frames = try Self.dumped(#"{"v": {"x": [1, "]"]}, "data": [[1, 2], [3, 4]], "seq": 9, "producer": "p\"1"}"#)
        #expect(
            try decoder.decode(frames).get()
                == DecodedRows(rows: 2, features: 2, elementType: .float32, values: [1, 2, 3, 4], seq: 9, producer: "p\"1"))
        let flat = try decoder.decode([utf8(#"{"data": [5, 6], "producer": null, "seq": null}"#)]).get()
        #expect(flat == DecodedRows(rows: 1, features: 2, elementType: .float32, values: [5, 6]))
    }

    @Test("NaN and ±Infinity, as json.dumps writes them, are values (the non-finite policy decides), not syntax errors")
    func nonFinite() throws {
        var decoder = MessageDecoder(codec: .json, features: 3)
        let frames = try Self.dumped("[float('nan'), float('inf'), -float('inf')]")
        #expect(frames[0] == utf8("[NaN, Infinity, -Infinity]"))
        let values = try decoder.decode(frames).get().values
        #expect(values[0].isNaN && values[1] == .infinity && values[2] == -.infinity)
    }

    @Test("the scratch buffer grows for large messages and is reused after")
    func largeThenSmall() throws {
        var decoder = MessageDecoder(codec: .json, features: 10)
        let large = try Self.dumped("np.arange(5000.0).reshape(500, 10).tolist()")
        #expect(try decoder.decode(large).get().values == (0..<5000).map(Float.init))
        #expect(
            try decoder.decode([utf8("[" + (0..<10).map(String.init).joined(separator: ",") + "]")]).get().values
                == (0..<10).map(Float.init))
    }

    @Test("rejections name the problem and where it is")
    func rejections() throws {
        var decoder = MessageDecoder(codec: .json, features: 2)
        let cases: [(String, String, String)] = [
            ("[1, 2", "malformed JSON: expected ',' or ']', found the end at byte 5 in [1, 2", "json"),
            ("[1, \"2\"]", #"malformed JSON: expected a number, found '"' at byte 4 in [1, "2"]"#, "json"),
            ("[1, 2] [3, 4]", "malformed JSON: expected the end of the text, found '[' at byte 7 in [1, 2] [3, 4]", "json"),
            ("[[1, 2], 3]", "malformed JSON: expected '[' to start a row, found '3' at byte 9 in [[1, 2], 3]", "json"),
            ("[1, [2]]", "malformed JSON: expected a number, found '[' at byte 4 in [1, [2]]", "json"),
            (
                "\"x\"", #"malformed JSON: expected an array of numbers, an array of rows, or an object with "data", found '"' at byte 0 in "x""#,
                "json"
            ),
            (#"{"rows": [1, 2]}"#, #"malformed JSON: object has no "data" key in {"rows": [1, 2]}"#, "json"),
            (#"{"data": 3}"#, #"malformed JSON: expected an array, found '3' at byte 9 in {"data": 3}"#, "json"),
            (
                #"{"data": [1, 2], "seq": 1.5}"#,
                #"malformed JSON: expected "seq" to be a non-negative integer below 2^64, found '1' at byte 24 in {"data": [1, 2], "seq": 1.5}"#,
                "json"
            ),
            ("[]", "JSON message has an empty row; send a row [x, …] or rows [[x, …], …]", "json"),
            ("[[1, 2], []]", "JSON message has an empty row; send a row [x, …] or rows [[x, …], …]", "json"),
            ("[1, 2, 3]", "rows have 3 features, the pipeline expects 2", "wrong_width"),
            ("[[1, 2], [3]]", "rows have 1 feature, the pipeline expects 2", "wrong_width"),
        ]
        for (text, message, reason) in cases {
            let error = decoder.failure([utf8(text)])
            #expect(error?.description == message, "\(text)")
            #expect(error?.reason == reason, "\(text)")
        }
        // Out of Double range is still a number: ∞, for the non-finite policy to see.
        #expect(try decoder.decode([utf8("[1e999, 2]")]).get().values == [.infinity, 2])
    }
}
