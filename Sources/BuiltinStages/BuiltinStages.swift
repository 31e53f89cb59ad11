public import StageKit

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

    /// Filled in as the stage targets land: `MinMaxStage.factory`, `BatchNormStage.factory`, `BatchRenormStage.factory`.
    public static let factories: [StageFactory] = []
}
