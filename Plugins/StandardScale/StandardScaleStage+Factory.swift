public import StageKit

extension StandardScaleStage {
    static let conventionSpec = ParameterSpec(
        "convention", .word, default: .text(convention), doc: "the only convention: sklearn (the library it follows)")
    static let withMeanSpec = ParameterSpec("with_mean", .flag, default: .flag(true), doc: "subtract the running mean")
    static let withStdSpec = ParameterSpec(
        "with_std", .flag, default: .flag(true), doc: "divide by the running standard deviation (1 for a constant feature)")

    /// Every key of `type: standard_scale`, in reading order.
    public static let parameters = [conventionSpec, withMeanSpec, withStdSpec]

    public static let factory = StageFactory(
        kind: kind,
        summary: "standardization to zero mean, unit variance (scikit-learn StandardScaler.partial_fit + transform)",
        parameters: parameters
    ) { reader, context in
        let mark = reader.diagnostics.mark()
        reader.declare(parameters)
        _ = reader.choice(conventionSpec.key, among: [convention], default: conventionSpec.defaultText)
        let withMean = reader.flag(withMeanSpec)
        let withStd = reader.flag(withStdSpec)
        reader.finish()
        guard mark.noNewErrors else { return nil }
        return StageBlueprint { StandardScaleStage(featureCount: context.featureCount, withMean: withMean, withStd: withStd) }
    }
}
