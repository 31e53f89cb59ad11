import BuiltinStages
import NormCore
import NormTesting
import StageKit

/// Builds one-stage chains through the real path (`StageResolver.resolve` + `BuiltinStages.registry()`, then the plans).
enum ChainFactory {
    /// A batch size every case's train batches and ghost batches fit (multiple of 4).
    static let batchSize = 16

    /// Builds a chain over `stages` (a list node); returns the chain and everything reported.
    static func build(
        stages: [ConfigNode], featureCount: Int, batchSize: Int = batchSize, minTrainingRows: Int = 2
    ) -> (chain: StageChain?, diagnostics: ConfigDiagnostics) {
        let diagnostics = ConfigDiagnostics()
        let plans = StageResolver.resolve(
            stages: ConfigNode(.list(stages)), path: ConfigPath.root.appending("pipelines").appending(index: 0).appending("stages"),
            pipeline: "p", featureCount: featureCount, batchSize: batchSize, registry: BuiltinStages.registry(), diagnostics: diagnostics)
        // A built-in stage's creation cannot fail once resolved; a failure would show as a nil chain.
        let chain = plans.flatMap { try? StageChain(plans: $0, featureCount: featureCount, minTrainingRows: minTrainingRows) }
        return (chain, diagnostics)
    }

    /// A one-stage chain from `(key, value)` parameters; records an issue and returns nil on failure.
    static func chain(
        _ parameters: [(String, ConfigNode)], featureCount: Int, minTrainingRows: Int = 2
    ) -> StageChain? {
        build(stages: [JSONConfig.map(parameters)], featureCount: featureCount, minTrainingRows: minTrainingRows).chain
    }
}

extension ConfigNode {
    static func number(_ value: Double) -> ConfigNode { ConfigNode(.double(value)) }
    static func integer(_ value: Int) -> ConfigNode { ConfigNode(.int(value)) }
    static func text(_ value: String) -> ConfigNode { ConfigNode(.string(value)) }
    static func flag(_ value: Bool) -> ConfigNode { ConfigNode(.bool(value)) }
    static func numbers(_ values: [Double]) -> ConfigNode { ConfigNode(.list(values.map(number))) }
}
