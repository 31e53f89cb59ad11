public import StageKit

extension MinMaxStage {
    static let conventionSpec = ParameterSpec(
        "convention", .word, default: .text(convention), doc: "the only convention: sklearn (the library it follows)")
    static let featureRange = ParameterSpec(
        "feature_range", .numberList, default: .numbers([MinMaxRange.unit.low, MinMaxRange.unit.high]),
        doc: "[low, high], low < high")
    static let clipSpec = ParameterSpec("clip", .flag, default: .flag(false), doc: "clip outputs to feature_range")

    /// Every key of `type: min_max`, in reading order.
    public static let parameters = [conventionSpec, featureRange, clipSpec]

    public static let factory = StageFactory(
        kind: kind,
        summary: "min-max scaling to feature_range (scikit-learn MinMaxScaler.partial_fit + transform)",
        parameters: parameters
    ) { reader, context in
        let mark = reader.diagnostics.mark()
        reader.declare(parameters)
        _ = reader.choice(conventionSpec.key, among: [convention], default: conventionSpec.defaultText)
        let range = readFeatureRange(reader)
        let clip = reader.flag(clipSpec)
        reader.finish()
        guard mark.noNewErrors, let range else { return nil }
        return StageBlueprint { MinMaxStage(featureCount: context.featureCount, range: range, clip: clip) }
    }

    /// `feature_range: [low, high]` with `low < high`; `nil` after reporting a problem.
    private static func readFeatureRange(_ reader: ParameterReader) -> MinMaxRange? {
        let key = featureRange.key
        guard let node = reader.value(key), !node.isNull else { return .unit }
        guard let bounds = reader.numberList(key) else { return nil }
        guard bounds.count == 2, bounds[0] < bounds[1] else {
            reader.error(key, "must be [low, high] with low < high, got \(node.quoted)")
            return nil
        }
        return MinMaxRange(low: bounds[0], high: bounds[1])
    }
}
