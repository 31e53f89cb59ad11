public import StageKit

/// `type: batch_norm`: one YAML type, two frameworks. The `convention` key picks whose parameter
/// names, defaults and update rules apply — `keras` (default; alias `tf_keras`) builds a
/// `KerasBatchNormStage`, `torch` a `TorchBatchNormStage`. They are separate classes because they
/// share no parameter names and no state names (a trainer reloads `moving_*` or `running_*`).
public enum BatchNormStage {
    public static let kind = "batch_norm"
    public static let conventions = ["keras", "tf_keras", "torch"]

    public static let factory = StageFactory(
        kind: kind,
        summary: "batch normalization (convention: keras = tf_keras BatchNormalization incl. virtual_batch_size; torch = BatchNorm1d)"
    ) { reader, context in
        let errorsBefore = reader.diagnostics.errors.count
        let convention = reader.choice("convention", among: conventions, default: "keras")
        let stage: any Stage
        if convention == "torch" {
            let options = TorchBatchNormOptions.read(from: reader, context: context)
            reader.finish(hint: "convention: torch uses PyTorch's names")
            stage = TorchBatchNormStage(featureCount: context.featureCount, options: options)
        } else {
            let options = KerasBatchNormOptions.read(
                from: reader, context: context, momentumHint: "did you mean PyTorch's convention (convention: torch)?")
            if reader.optionalBool("renorm") == true {
                reader.error("renorm", "renorm is a separate stage: use 'type: batch_renorm'")
            }
            reader.finish(hint: "convention: keras uses tf_keras' names")
            stage = KerasBatchNormStage(featureCount: context.featureCount, options: options)
        }
        return reader.diagnostics.errors.count == errorsBefore ? stage : nil
    }
}
