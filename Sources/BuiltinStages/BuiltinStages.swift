import BatchNorm
import BatchRenorm
import MinMax
public import StageKit
import StandardScale

/// The stages compiled into normd, registered in one place (the `type:` names of the YAML).
public enum BuiltinStages {
    /// A registry holding every built-in stage.
    public static func registry() -> StageRegistry {
        var registry = StageRegistry()
        for factory in factories {
            try! registry.register(factory) // distinct kinds by construction; a clash is a programmer error
        }
        return registry
    }

    /// Every built-in stage's factory: `min_max`, `standard_scale`, `batch_norm` (keras or torch convention), `batch_renorm`.
    public static let factories: [StageFactory] = [
        MinMaxStage.factory,
        StandardScaleStage.factory,
        BatchNormFactory.factory,
        BatchRenormStage.factory,
    ]
}
