import BuiltinStages
import DynamicStages
import NormConfig
import StageKit

/// Reads a configuration the way every command needs it: parse the YAML, load its `plugins:` into a
/// registry next to the built-in stages, then validate the pipelines against that registry.
///
/// One place, so `validate`, `apply` and `run` can never disagree about which stage kinds exist.
enum ConfiguredStages {
    /// The validation result (plugin load problems included, in source order) and the registry the
    /// pipelines' chains must be built with.
    static func validate(file path: String) -> (validation: ConfigurationValidation, registry: StageRegistry) {
        var registry = BuiltinStages.registry()
        let diagnostics = ConfigDiagnostics()
        guard let root = YAMLConfigLoader.load(file: path, diagnostics: diagnostics) else {
            // Unreadable or not YAML: let NormConfig report it exactly as it always does.
            return (NormdConfiguration.validate(file: path, registry: registry), registry)
        }
        StagePlugins.load(from: root, configFile: path, into: &registry, diagnostics: diagnostics)
        return (NormdConfiguration.validate(root: root, registry: registry, diagnostics: diagnostics), registry)
    }
}
