import BuiltinStages
import DynamicStages
import NormConfig
import StageKit

/// Reads a configuration the way every command needs it: parse the YAML, load its `plugins:` into a
/// registry next to the built-in stages, then resolve the pipelines against that registry.
///
/// One place, so `validate`, `apply`, `run` and `stages --config` can never disagree about which
/// stage kinds exist. The registry stays here: what leaves is the resolved plan (`NormdConfiguration`,
/// whose stages are bound to their factories), from which chains are built without it.
enum ConfiguredStages {
    /// The validation result, plugin load problems included, in source order; its configuration is
    /// the plan every command builds its chains from.
    static func resolve(file path: String) -> ConfigurationValidation {
        let diagnostics = ConfigDiagnostics()
        guard let root = YAMLConfigLoader.load(file: path, diagnostics: diagnostics) else {
            // Unreadable or not YAML: let NormConfig report it exactly as it always does.
            return NormdConfiguration.validate(file: path, registry: BuiltinStages.registry())
        }
        let registry = stageKinds(root: root, file: path, diagnostics: diagnostics)
        return NormdConfiguration.validate(root: root, registry: registry, diagnostics: diagnostics)
    }

    /// The built-in stages and the kinds of the configuration's `plugins:` (problems loading them go
    /// to `diagnostics`, located at the `plugins[i]` entry).
    static func stageKinds(root: ConfigNode, file path: String, diagnostics: ConfigDiagnostics) -> StageRegistry {
        var registry = BuiltinStages.registry()
        StagePlugins.load(from: root, configFile: path, into: &registry, diagnostics: diagnostics)
        return registry
    }
}
