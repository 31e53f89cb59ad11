import StageKit
import Testing

/// `[Double].allFinite`, the check the chain makes of every statistics vector after a train batch
/// (an OR of exponent tests over the bit patterns): false exactly when some element is NaN or ±∞,
/// wherever it sits, whatever the NaN's sign and payload; true for every finite extreme.
@Suite struct AllFiniteTests {
    static let finite: [Double] = [
        0, -0.0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
        -.leastNormalMagnitude, 1e300, 3,
    ]
    static let nonFinite: [Double] = [.nan, -.nan, .signalingNaN, .infinity, -.infinity, Double(bitPattern: 0x7FF0_0000_0000_0001)]

    @Test("finite extremes, and the empty vector, are finite")
    func finiteValues() {
        #expect(Self.finite.allFinite)
        #expect([Double]().allFinite)
        #expect([Double](repeating: .greatestFiniteMagnitude, count: 131).allFinite)
    }

    @Test("one NaN or infinity anywhere in the vector makes it non-finite")
    func oneBadValue() {
        for bad in Self.nonFinite {
            for count in [1, 2, 7, 128, 131] {
                for position in Set([0, count / 2, count - 1]) {
                    var values = (0..<count).map { Self.finite[$0 % Self.finite.count] }
                    values[position] = bad
                    #expect(!values.allFinite, "\(bad.bitPattern) at \(position) of \(count)")
                }
            }
        }
    }
}
