import NpyFormat
import Testing
import WireFormat

@Suite("DecodedMessage: non-finite detection and copying")
struct NonFiniteTests {
    /// Runs `body` on a message over `bytes` placed `misalignment` bytes past a 16-byte boundary.
    func withMessage<R>(
        _ bytes: [UInt8], rows: Int, features: Int, type: NpyElementType, misalignment: Int = 1,
        _ body: (DecodedMessage) -> R
    ) -> R {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + misalignment, alignment: 16)
        defer { raw.deallocate() }
        let slice = UnsafeMutableRawBufferPointer(rebasing: raw[misalignment...])
        slice.copyBytes(from: bytes)
        return body(DecodedMessage(rows: rows, features: features, elementType: type, payload: UnsafeRawBufferPointer(slice)))
    }

    @Test("the first non-finite value is found by row and column; other rows stay usable")
    func float32NonFinite() {
        var values = [Float](repeating: 1, count: 4 * 5)
        values[2 * 5 + 3] = .nan
        values[3 * 5 + 0] = -.infinity
        withMessage(f4(values), rows: 4, features: 5, type: .float32) { message in
            let found = message.firstNonFinite()
            #expect(found?.row == 2 && found?.column == 3 && found?.value.isNaN == true)
            #expect((0..<4).map(message.isRowFinite) == [true, true, false, false])
        }
        withMessage(f4([Float](repeating: 0, count: 10)), rows: 2, features: 5, type: .float32) { message in
            #expect(message.firstNonFinite() == nil)
        }
    }

    @Test("a float64 value beyond Float32's range counts as non-finite: it would be copied as ∞")
    func float64Overflow() {
        withMessage(f8([1, 2, 3, 1e300]), rows: 2, features: 2, type: .float64) { message in
            let found = message.firstNonFinite()
            #expect(found?.row == 1 && found?.column == 1 && found?.value == .infinity)
            #expect((0..<2).map(message.isRowFinite) == [true, false])
        }
    }

    @Test("copyRows copies a sub-range into the start of the destination")
    func copySubrange() {
        let values: [Float] = (0..<12).map(Float.init)
        for (bytes, type) in [(f4(values), NpyElementType.float32), (f8(values.map(Double.init)), .float64)] {
            withMessage(bytes, rows: 4, features: 3, type: type, misalignment: 3) { message in
                var destination = [Float](repeating: -1, count: 7)
                destination.withUnsafeMutableBufferPointer { message.copyRows(1..<3, into: $0) }
                #expect(destination == [3, 4, 5, 6, 7, 8, -1])
                #expect(message.value(row: 3, column: 2) == 11)
            }
        }
    }
}
