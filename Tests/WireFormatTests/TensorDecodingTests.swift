import NpyFormat
import Testing
import WireFormat

@Suite("Tensor codec: decoding")
struct TensorDecodingTests {
    /// The values Python sends, as Float32 bit patterns read back by NumPy (exact comparison).
    static let values = "np.arange(24, dtype=np.float64).reshape(4, 6) / 7 - 1"

    @Test("decodes exactly what pyzmq's send_json + send(A) recipe produces for float32")
    func pyzmqRecipeFloat32() throws {
        let frames = try Python.frames(
            """
            a = (\(Self.values)).astype(np.float32)
            frames = [json.dumps(dict(dtype=str(a.dtype), shape=a.shape)).encode(), a.tobytes()]
            """)
        #expect(frames[0] == utf8(#"{"dtype": "float32", "shape": [4, 6]}"#))
        var decoder = MessageDecoder(codec: .tensor, features: 6)
        let decoded = try decoder.decode(frames).get()
        let expected = (0..<24).map { Float(Double($0) / 7 - 1) }
        #expect(decoded == DecodedRows(rows: 4, features: 6, elementType: .float32, values: expected))
    }

    @Test("float64 payloads are converted to Float32 (round to nearest)")
    func float64Conversion() throws {
        let frames = try Python.frames(
            """
            a = \(Self.values)
            frames = [json.dumps(dict(dtype=str(a.dtype), shape=a.shape)).encode(), a.tobytes()]
            """)
        #expect(frames[0] == utf8(#"{"dtype": "float64", "shape": [4, 6]}"#))
        var decoder = MessageDecoder(features: 6)
        let decoded = try decoder.decode(frames).get()
        #expect(decoded.elementType == .float64)
        #expect(decoded.values == (0..<24).map { Float(Double($0) / 7 - 1) })
    }

    @Test("a one-dimensional shape [features] is one row")
    func oneDimensional() throws {
        let frames = try Python.frames(
            """
            a = np.array([1.5, -2, 3], dtype=np.float32)
            frames = [json.dumps(dict(dtype=str(a.dtype), shape=a.shape)).encode(), a.tobytes()]
            """)
        #expect(frames[0] == utf8(#"{"dtype": "float32", "shape": [3]}"#))
        var decoder = MessageDecoder(features: 3)
        #expect(try decoder.decode(frames).get() == DecodedRows(rows: 1, features: 3, elementType: .float32, values: [1.5, -2, 3]))
    }

    @Test(
        "every accepted dtype spelling",
        arguments: [
            ("<f4", NpyElementType.float32), ("float32", .float32), ("f4", .float32), ("=f4", .float32),
            ("<f8", .float64), ("float64", .float64), ("f8", .float64), ("=f8", .float64),
        ])
    func dtypeSpellings(dtype: String, type: NpyElementType) throws {
        let payload = type == .float32 ? f4([1, 2]) : f8([1, 2])
        var decoder = MessageDecoder(features: 2)
        let decoded = try decoder.decode([utf8(#"{"dtype":"\#(dtype)","shape":[1,2]}"#), payload]).get()
        #expect(decoded == DecodedRows(rows: 1, features: 2, elementType: type, values: [1, 2]))
    }

    @Test("seq and producer are read; unknown keys of every JSON type are skipped")
    func seqProducerAndUnknownKeys() throws {
        let header = #"""
             { "version" : 2, "meta": {"a": [1, {"b": "x\"}"}], "c": null}, "dtype":"<f4",
              "tags": ["\u00e9", "\\", []], "shape":[2,1], "t": -1.5e-3, "ok": true, "no": false,
              "seq": 17, "producer": "cam-\u00e9\ud83d\ude00", "nan": NaN, "inf": -Infinity }
            """#
        var decoder = MessageDecoder(features: 1)
        let decoded = try decoder.decode([utf8(header), f4([3, 4])]).get()
        #expect(
            decoded
                == DecodedRows(
                    rows: 2, features: 1, elementType: .float32, values: [3, 4],
                    seq: 17, producer: "cam-é😀"))
    }

    @Test("keys spelled with escapes still match; a repeated key takes its last value, as json.loads does")
    func escapedAndRepeatedKeys() throws {
        var decoder = MessageDecoder(features: 2)
        let decoded = try decoder.decode([utf8(#"{"dty\u0070e":"<f4","shape":[9,9],"shape":[1,2],"seq":1,"seq":null}"#), f4([5, 6])]).get()
        #expect(decoded == DecodedRows(rows: 1, features: 2, elementType: .float32, values: [5, 6]))
    }

    @Test("shape [0, features] is an empty message of 0 rows")
    func emptyMessage() throws {
        var decoder = MessageDecoder(features: 4)
        let decoded = try decoder.decode([utf8(#"{"dtype": "float32", "shape": [0, 4]}"#), []]).get()
        #expect(decoded == DecodedRows(rows: 0, features: 4, elementType: .float32, values: []))
    }

    @Test("with three frames the first is the topic (PUB/SUB); it is returned for logs")
    func topicFrame() throws {
        let frames = try Python.frames(
            """
            a = np.ones((2, 3), dtype=np.float32)
            frames = [b"features.cam-1", json.dumps(dict(dtype=str(a.dtype), shape=a.shape)).encode(), a.tobytes()]
            """)
        var decoder = MessageDecoder(features: 3)
        #expect(
            try decoder.decode(frames).get()
                == DecodedRows(rows: 2, features: 3, elementType: .float32, values: [1, 1, 1, 1, 1, 1], topic: "features.cam-1"))
        // An empty topic frame is still a topic frame.
        #expect(try decoder.decode([[]] + frames.dropFirst()).get().topic == "")
    }

    @Test("unaligned payloads decode the same, for float32 and float64", arguments: 1...7)
    func unalignedPayload(misalignment: Int) throws {
        var decoder = MessageDecoder(features: 3)
        let values: [Float] = [1, -2.5, 3e-8, 4e30, -5, 6]
        let float32 = decoder.decode([utf8(#"{"dtype":"<f4","shape":[2,3]}"#), f4(values)], misalignment: misalignment)
        #expect(try float32.get().values == values)
        let float64 = decoder.decode([utf8(#"{"dtype":"<f8","shape":[2,3]}"#), f8(values.map(Double.init))], misalignment: misalignment)
        #expect(try float64.get().values == values)
    }

    @Test("the producer String is reused while the producer bytes stay the same")
    func producerReuse() throws {
        var decoder = MessageDecoder(features: 1)
        let header = utf8(#"{"dtype":"<f4","shape":[1],"producer":"a-producer-name-longer-than-15-bytes"}"#)
        var first = try #require(try decoder.decode([header, f4([1])]).get().producer)
        var second = try #require(try decoder.decode([header, f4([2])]).get().producer)
        #expect(first == second)
        let firstAddress = first.withUTF8 { $0.baseAddress }
        let secondAddress = second.withUTF8 { $0.baseAddress }
        #expect(firstAddress == secondAddress, "the same storage, not a new String")
        let other = try decoder.decode([utf8(#"{"dtype":"<f4","shape":[1],"producer":"other"}"#), f4([3])]).get()
        #expect(other.producer == "other")
    }
}
