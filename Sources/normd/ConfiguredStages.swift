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
    struct Resolution {
        /// Every issue, plugin load problems included, in source order; its configuration is the
        /// plan every command builds its chains from.
        var validation: ConfigurationValidation
        /// The kinds the configuration's `plugins:` added, by kind.
        var pluginKinds: [StageFactory]
        /// The problems reading the file and loading its plugins, before any pipeline was read:
        /// what decides whether the stage kinds are known (`normd stages --config`).
        var loadIssues: [ConfigIssue]
    }

    static func resolve(file path: String) -> Resolution {
        let diagnostics = ConfigDiagnostics()
        guard let root = YAMLConfigLoader.load(file: path, diagnostics: diagnostics) else {
            // Unreadable or not YAML: let NormConfig report it exactly as it always does.
            let validation = NormdConfiguration.validate(file: path, registry: BuiltinStages.registry())
            return Resolution(validation: validation, pluginKinds: [], loadIssues: validation.issues)
        }
        var registry = BuiltinStages.registry()
        StagePlugins.load(from: root, configFile: path, into: &registry, diagnostics: diagnostics)
        let loadIssues = diagnostics.issues
        let builtin = Set(BuiltinStages.factories.map(\.kind))
        let pluginKinds = registry.kinds.filter { !builtin.contains($0) }.compactMap(registry.factory)
        return Resolution(
            validation: NormdConfiguration.validate(root: root, registry: registry, diagnostics: diagnostics),
            pluginKinds: pluginKinds, loadIssues: loadIssues)
    }
}
