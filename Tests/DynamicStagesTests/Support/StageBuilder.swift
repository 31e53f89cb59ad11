import BuiltinStages
import DynamicStages
import Foundation
import NormConfig
import NormTesting
import StageKit
import Testing

/// Builds stages and chains in-process from YAML, with the built-ins and the example plugins
/// registered — the same path `normd` takes, without a subprocess.
enum StageBuilder {
    /// Built-ins plus the example plugins, loaded once per test process (normd never unloads them).
    static func registry() throws -> StageRegistry {
        try BuildProducts.require(BuildProducts.robustScale)
        try BuildProducts.require(BuildProducts.log1p)
        try BuildProducts.require(BuildProducts.clamp)
        var registry = BuiltinStages.registry()
        let diagnostics = ConfigDiagnostics()
        let root = ConfigNode(
            .map([
                ConfigEntry(
                    key: "plugins",
                    value: ConfigNode(
                        .list([
                            ConfigNode(.string(BuildProducts.robustScale)), ConfigNode(.string(BuildProducts.log1p)),
                            ConfigNode(.string(BuildProducts.clamp)),
                        ])))
            ]))
        StagePlugins.load(from: root, configFile: "/in-process.yaml", into: &registry, diagnostics: diagnostics)
        try #require(diagnostics.issues.isEmpty, "\(diagnostics.issues)")
        return registry
    }

    /// A chain of the stages in `yaml` (a YAML flow list of stage mappings).
    static func chain(_ yaml: String, features: Int, batchSize: Int = 8, minTrainingRows: Int = 2) throws -> StageChain {
        let diagnostics = ConfigDiagnostics()
        let node = try #require(YAMLConfigLoader.parse(yaml, file: "stages.yaml", diagnostics: diagnostics))
        let plans = StageResolver.resolve(
            stages: node, path: ConfigPath([.key("stages")]), pipeline: "p", featureCount: features,
            batchSize: batchSize, registry: try registry(), diagnostics: diagnostics)
        try #require(diagnostics.issues.isEmpty, "\(diagnostics.issues)")
        return try StageChain(plans: try #require(plans), featureCount: features, minTrainingRows: minTrainingRows)
    }

    /// The one stage of `yaml` (a single stage mapping), built fresh.
    static func stage(_ yaml: String, features: Int) throws -> any Stage {
        try chain("[\(yaml)]", features: features).links[0].stage
    }
}
