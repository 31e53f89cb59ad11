import NpyFormat
import Testing
import WireFormat

@Suite("Npy codec: one .npy frame per message")
struct NpyDecodingTests {
    static func saved(_ array: String, topic: String? = nil) throws -> [[UInt8]] {
        try Python.frames(
            """
            a = \(array)
            buffer = io.BytesIO(); np.save(buffer, a)
            frames = \(topic.map { "[b\"\($0)\", buffer.getvalue()]" } ?? "[buffer.getvalue()]")
            """)
    }

    @Test("np.save of a 2-D float32 array")
    func twoDimensional() throws {
        var decoder = MessageDecoder(codec: .npy, features: 3)
        let frames = try Self.saved("np.arange(6, dtype=np.float32).reshape(2, 3)")
        #expect(try decoder.decode(frames).get() == DecodedRows(rows: 2, features: 3, elementType: .float32, values: [0, 1, 2, 3, 4, 5]))
    }

    @Test("np.save of a 1-D float64 array is one row, converted; a topic frame is allowed; any alignment")
    func oneDimensionalFloat64WithTopic() throws {
        var decoder = MessageDecoder(codec: .npy, features: 3)
        let frames = try Self.saved("np.array([0.1, 0.2, 0.3])", topic: "t")
        for misalignment in 0..<4 {
            #expect(
                try decoder.decode(frames, misalignment: misalignment).get()
                    == DecodedRows(rows: 1, features: 3, elementType: .float64, values: [0.1, 0.2, 0.3], topic: "t"))
        }
    }

    @Test("rejections: not .npy, Fortran order, 3-D, wrong width, trailing or missing bytes")
    func rejections() throws {
        var decoder = MessageDecoder(codec: .npy, features: 3)
        #expect(decoder.failure([utf8("[1, 2, 3]")]) == .npy(.notNpy))
        #expect(decoder.failure([utf8("[1, 2, 3]")])?.description == ".npy frame: not a .npy file (missing the \\x93NUMPY magic)")
        #expect(decoder.failure([utf8("[1, 2, 3]")])?.reason == "npy")

        let fortran = try Self.saved("np.asfortranarray(np.ones((2, 3), dtype=np.float32))")
        #expect(
            decoder.failure(fortran)?.description
                == ".npy frame: array is in Fortran (column-major) order; save a C-order array (np.ascontiguousarray)")

        let cube = try Self.saved("np.ones((2, 3, 3), dtype=np.float32)")
        #expect(decoder.failure(cube)?.description == "bad shape: .npy shape [2, 3, 3] has 3 dimensions; save (rows, features) or (features,)")

        let narrow = try Self.saved("np.ones((2, 4), dtype=np.float32)")
        #expect(decoder.failure(narrow)?.description == "rows have 4 features, the pipeline expects 3")

        let good = try Self.saved("np.ones((2, 3), dtype=np.float32)")
        #expect(decoder.failure([good[0] + [0]])?.description == "payload is 25 bytes, header shape [2, 3] of <f4 needs 24")
        #expect(decoder.failure([Array(good[0].dropLast(4))])?.description == "payload is 20 bytes, header shape [2, 3] of <f4 needs 24")

        let integers = try Self.saved("np.ones((2, 3), dtype=np.int64)")
        #expect(decoder.failure(integers)?.description == ".npy frame: unsupported dtype <i8; expected '<f4' (float32) or '<f8' (float64)")
    }
}
