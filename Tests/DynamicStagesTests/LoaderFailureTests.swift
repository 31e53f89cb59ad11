import Foundation
import NormTesting
import Testing

/// Every way a `plugins:` entry can fail, through `normd validate`: exit 78 and the whole message,
/// located at the `plugins[i]` entry — never a crash.
@Suite struct LoaderFailureTests {
    /// A configuration listing `plugins` (written as given) with a built-in-only pipeline.
    private func config(_ plugins: [String]) -> String {
        "plugins:\n" + plugins.map { "  - \($0)\n" }.joined() + """
            pipelines:
              - name: p
                features: 2
                stages:
                  - type: min_max

            """
    }

    private func expectRefused(
        _ plugins: [String], in scratch: ScratchDirectory, _ expected: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let result = try Normd.validate(config(plugins), in: scratch)
        #expect(result.status == 78, sourceLocation: sourceLocation)
        #expect(result.stderrLines == expected, sourceLocation: sourceLocation)
        #expect(result.stdout == "", sourceLocation: sourceLocation)
    }

    @Test func aMissingFileNamesTheResolvedPath() throws {
        let scratch = try ScratchDirectory()
        try expectRefused(
            ["libs/nope.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'libs/nope.so': no such file (\(scratch.path("libs/nope.so")))",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func aFileThatIsNotASharedLibraryQuotesDlerror() throws {
        let scratch = try ScratchDirectory()
        try scratch.write(String(repeating: "not an ELF file\n", count: 8), to: "text.so")
        try expectRefused(
            ["text.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'text.so' cannot be loaded: \(scratch.path("text.so")): invalid ELF header",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func aLibraryWithoutTheEntrySymbolQuotesDlerror() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build("int unrelated(void) { return 1; }\n", named: "noentry", in: scratch)
        try expectRefused(
            ["noentry.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'noentry.so' is not a normd stage plugin: \(scratch.path("noentry.so")): undefined symbol: normd_stage_plugin_entry",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func anEntryReturningNullIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(tweak: "if (plugin.stage_count) return NULL;"), named: "null", in: scratch)
        try expectRefused(
            ["null.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'null.so': normd_stage_plugin_entry returned NULL",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func anotherABIVersionIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(tweak: "plugin.abi_version = 99;"), named: "future", in: scratch)
        try expectRefused(
            ["future.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'future.so' was built for stage ABI version 99, this normd speaks version 1; rebuild it against this normd's normd_stage.h",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func aShortPluginHeaderIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(tweak: "plugin.struct_size = 8;"), named: "short", in: scratch)
        try expectRefused(
            ["short.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'short.so': its normd_stage_plugin header is 8 bytes, ABI version 1 needs at least 32; rebuild it against this normd's normd_stage.h",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func aShortStageTableIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(tweak: "vtable.struct_size = 16;"), named: "shorttable", in: scratch)
        try expectRefused(
            ["shorttable.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'shorttable.so': its stage table 0 (normd_stage_vtable) is 16 bytes, ABI version 1 needs at least 80; rebuild it against this normd's normd_stage.h",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func aMissingFunctionIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(tweak: "vtable.process = NULL;"), named: "noprocess", in: scratch)
        try expectRefused(
            ["noprocess.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'noprocess.so': stage 'probe' has no 'process' function",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func anInvalidKindIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(kind: "robust scale"), named: "badkind", in: scratch)
        try expectRefused(
            ["badkind.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'badkind.so': stage 0 has kind \"robust scale\"; a kind is letters, digits and '_', starting with a letter",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func aKindThatCollidesWithABuiltInIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(kind: "min_max"), named: "minmax", in: scratch)
        try expectRefused(
            ["minmax.so"], in: scratch,
            [
                "cfg.yaml:2:5: plugins[0]: plugin 'minmax.so': stage type 'min_max' is already provided by normd's built-in stages",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func aKindThatCollidesWithAnotherPluginIsRefused() throws {
        try BuildProducts.require(BuildProducts.robustScale)
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(kind: "robust_scale"), named: "rival", in: scratch)
        try expectRefused(
            [BuildProducts.robustScale, "rival.so"], in: scratch,
            [
                "cfg.yaml:3:5: plugins[1]: plugin 'rival.so': stage type 'robust_scale' is already provided by plugin '\(BuildProducts.robustScale)' (plugins[0])",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func theSameLibraryTwiceIsRefused() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(), named: "probe", in: scratch)
        try expectRefused(
            ["probe.so", "./probe.so"], in: scratch,
            [
                "cfg.yaml:3:5: plugins[1]: plugin './probe.so' is already loaded as 'probe.so' (plugins[0])",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func pluginsMustBeAList() throws {
        let scratch = try ScratchDirectory()
        let result = try Normd.validate("plugins: probe.so\npipelines:\n  - {name: p, features: 2, stages: [{type: min_max}]}\n", in: scratch)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "cfg.yaml:1:10: plugins: expected a list of shared-library paths or directories, got a string \"probe.so\"",
                "cfg.yaml: 1 error",
            ])
    }

    @Test func everyBrokenLibraryIsReportedInOneRun() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(TestPlugin.source(tweak: "plugin.abi_version = 2;"), named: "v2", in: scratch)
        let result = try Normd.validate(config(["gone.so", "v2.so"]).replacingOccurrences(of: "min_max", with: "probe"), in: scratch)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "cfg.yaml:2:5: plugins[0]: plugin 'gone.so': no such file (\(scratch.path("gone.so")))",
                "cfg.yaml:3:5: plugins[1]: plugin 'v2.so' was built for stage ABI version 2, this normd speaks version 1; rebuild it against this normd's normd_stage.h",
                "cfg.yaml:8:15: pipelines[0].stages[0].type: unknown stage type 'probe' (known: batch_norm, batch_renorm, min_max, standard_scale)",
                "cfg.yaml: 3 errors",
            ])
    }
}
