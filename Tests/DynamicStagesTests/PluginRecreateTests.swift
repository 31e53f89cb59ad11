import BuiltinStages
import DynamicStages
import Foundation
import NormConfig
import NormTesting
import StageKit
import Testing

/// Chains built from a resolved plan never fail for a configuration reason; a plugin whose `create`
/// fails at run time (here: it allows one instance) is a typed `StageError` naming the stage.
@Suite struct PluginRecreateTests {
    @Test func aSecondChainWhosePluginRefusesToCreateIsATypedStageError() throws {
        let scratch = try ScratchDirectory()
        let library = try TestPlugin.build(
            TestPlugin.source(
                kind: "once",
                onCreate: """
                    static int created = 0;
                    if (created++ > 0) {
                        snprintf(error->message, error->message_size, "only one instance per process");
                        return NORMD_STAGE_ERR_INTERNAL;
                    }
                    """), named: "once", in: scratch)
        let yaml = """
            plugins: [\(library)]
            pipelines:
              - name: p
                features: 2
                stages: [{type: min_max}, {type: once}]
            """
        let diagnostics = ConfigDiagnostics()
        let root = try #require(YAMLConfigLoader.parse(yaml, file: "cfg.yaml", diagnostics: diagnostics))
        var registry = BuiltinStages.registry()
        StagePlugins.load(from: root, configFile: scratch.path("cfg.yaml"), into: &registry, diagnostics: diagnostics)
        let result = NormdConfiguration.validate(root: root, registry: registry, diagnostics: diagnostics)
        let pipeline = try #require(result.configuration?.pipelines.first, "\(result.issues)")

        // Validation created the one instance; the first chain takes it, so nothing is created.
        #expect(try pipeline.makeChain().stages.map(\.kind) == ["min_max", "once"])
        #expect(throws: StageError.inStage(index: 1, kind: "once", .failed(kind: "once", "only one instance per process"))) {
            try pipeline.makeChain()
        }
    }
}
