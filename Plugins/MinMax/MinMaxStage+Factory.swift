public import StageKit

extension MinMaxStage {
    /// Builds `type: min_max` from `feature_range` (`[low, high]`, default `[0, 1]`), `clip`
    /// (default `false`) and the bookkeeping key `convention` (only `sklearn`, the library it follows).
    public static let factory = StageFactory(
        kind: kind,
        summary: "min-max scaling to feature_range (scikit-learn MinMaxScaler.partial_fit + transform)"
    ) { reader, context in
        let errorsBefore = reader.diagnostics.errors.count
        _ = reader.choice("convention", among: [convention], default: convention)
        let range = readFeatureRange(reader)
        let clip = reader.bool("clip", default: false)
        reader.finish()
        guard reader.diagnostics.errors.count == errorsBefore, let range else { return nil }
        return MinMaxStage(featureCount: context.featureCount, range: range, clip: clip)
    }

    /// `feature_range: [low, high]` with `low < high`; `nil` after reporting a problem.
    private static func readFeatureRange(_ reader: ParameterReader) -> MinMaxRange? {
        guard let node = reader.value("feature_range"), !node.isNull else { return .unit }
        guard let bounds = reader.numberList("feature_range") else { return nil }
        guard bounds.count == 2, bounds[0] < bounds[1] else {
            reader.error("feature_range", "must be [low, high] with low < high, got \(node.quoted)")
            return nil
        }
        return MinMaxRange(low: bounds[0], high: bounds[1])
    }
}
