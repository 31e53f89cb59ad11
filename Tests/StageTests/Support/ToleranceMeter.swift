/// Compares numbers with `|got − expected| <= atol + rtol·|expected|` and remembers the worst ratio
/// `|got − expected| / (atol + rtol·|expected|)` (a ratio above 1 is a failure).
struct ToleranceMeter {
    let absolute: Double
    let relative: Double
    private(set) var worstRatio: Double = 0
    private(set) var worstWhere = ""

    init(absolute: Double, relative: Double) {
        self.absolute = absolute
        self.relative = relative
    }

    static let outputs = ToleranceMeter(absolute: 1e-4, relative: 1e-5)
    static let state = ToleranceMeter(absolute: 1e-6, relative: 1e-5)

    /// Returns the places (index, got, expected) that are out of tolerance.
    mutating func compare(_ got: [Double], _ expected: [Double], at place: String) -> [String] {
        var failures: [String] = []
        for (index, (g, e)) in zip(got, expected).enumerated() {
            let ratio = abs(g - e) / (absolute + relative * abs(e))
            if ratio > worstRatio || !ratio.isFinite {
                worstRatio = ratio.isFinite ? ratio : .infinity
                worstWhere = "\(place)[\(index)]"
            }
            if !(ratio <= 1) { failures.append("\(place)[\(index)]: got \(g), expected \(e) (ratio \(ratio))") }
        }
        return failures
    }
}
