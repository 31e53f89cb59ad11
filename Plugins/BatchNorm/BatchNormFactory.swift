public import StageKit

/// `type: batch_norm`: one YAML type, two frameworks. The `convention` key picks whose parameter
/// names, defaults and update rules apply — `keras` (default; alias `tf_keras`) builds a
/// `KerasBatchNormStage`, `torch` a `TorchBatchNormStage`. They are separate classes because they
/// share no parameter names and no state names (a trainer reloads `moving_*` or `running_*`); their
/// arithmetic is one `BatchNormKernel`. This enum is no stage itself, only the kind's factory.
public enum BatchNormFactory {
    public static let kind = "batch_norm"
    public static let conventions = ["keras", "tf_keras", "torch"]

    static let conventionSpec = ParameterSpec(
        "convention", .word, default: .text("keras"), doc: "whose names, defaults and update rules apply: keras | tf_keras (same) | torch")
    static let renorm = ParameterSpec(
        "renorm", .flag, default: .flag(false), conventions: KerasParameters.conventions,
        doc: "only false; renorm is the separate stage batch_renorm")

    /// Both conventions' keys, interleaved so that each convention's subset is in its reading order.
    public static let parameters: [ParameterSpec] = {
        let k = KerasParameters.self, t = TorchParameters.self
        return [
            conventionSpec, k.momentum, t.momentum, k.epsilon, t.eps, k.center, k.scale, t.affine, t.trackRunningStats,
            k.gamma, k.beta, t.gamma, t.beta, t.runningMeanInit, t.runningVarInit,
            k.virtualBatchSize, k.movingMeanInitializer, k.movingVarianceInitializer, renorm,
        ]
    }()

    public static let factory = StageFactory(
        kind: kind,
        summary: "batch normalization (convention: keras = tf_keras BatchNormalization incl. virtual_batch_size; torch = BatchNorm1d)",
        parameters: parameters
    ) { reader, context in
        let mark = reader.diagnostics.mark()
        let convention = reader.choice(conventionSpec.key, among: conventions, default: conventionSpec.defaultText)
        reader.declare(parameters.applying(to: convention))
        let make: @Sendable () -> any Stage
        if convention == "torch" {
            let options = TorchBatchNormOptions.read(from: reader, context: context)
            reader.finish(
                hint: "convention: torch uses PyTorch's names",
                aliases: ["epsilon": "eps", "center": "affine", "scale": "affine"])
            make = { TorchBatchNormStage(featureCount: context.featureCount, options: options) }
        } else {
            var options = KerasBatchNormOptions.read(
                from: reader, context: context, momentumHint: "did you mean PyTorch's convention (convention: torch)?")
            options.initialMean = KerasBatchNormOptions.readInitial(
                KerasParameters.movingMeanInitializer, from: reader, count: context.featureCount)
            options.initialVariance = KerasBatchNormOptions.readInitial(
                KerasParameters.movingVarianceInitializer, from: reader, count: context.featureCount)
            if reader.optionalBool(renorm.key) == true {
                reader.error("renorm", "renorm is a separate stage: use 'type: batch_renorm'")
            }
            reader.finish(
                hint: "convention: keras uses tf_keras' names",
                aliases: ["eps": "epsilon", "affine": "center' and 'scale"])
            make = { [options] in KerasBatchNormStage(featureCount: context.featureCount, options: options) }
        }
        return mark.noNewErrors ? StageBlueprint(make) : nil
    }
}
