import Foundation
import NormTesting
import Testing

/// `normd stages --config FILE` lists the configuration's plugins after the built-in stages, with
/// their summary and no parameters (only the plugin's code knows its keys).
@Suite struct StagesCommandPluginTests {
    private func config(_ plugin: String) -> String {
        "plugins:\n  - \(plugin)\npipelines:\n  - {name: p, features: 2, stages: [{type: min_max}]}\n"
    }

    @Test func textListsAPluginKindWithItsSummary() throws {
        let scratch = try ScratchDirectory()
        try scratch.write(config(BuildProducts.log1p), to: "cfg.yaml")
        let result = try Normd.run(["stages", "--config", "cfg.yaml"], in: scratch)
        #expect(result.status == 0)
        #expect(result.stderr == "")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(
            Array(lines.suffix(2)) == [
                "log1p (plugin): log1p(x + offset), counting training rows; example Swift plugin",
                "  parameters: unknown (read by the plugin itself)",
            ])
        #expect(
            lines.filter { !$0.hasPrefix(" ") }.map { $0.prefix { $0 != " " } } == [
                "min_max", "standard_scale", "batch_norm", "batch_renorm", "log1p",
            ])
    }

    @Test func jsonGivesAPluginNullParameters() throws {
        let scratch = try ScratchDirectory()
        try scratch.write(config(BuildProducts.robustScale), to: "cfg.yaml")
        let result = try Normd.run(["stages", "--config", "cfg.yaml", "--format", "json"], in: scratch)
        #expect(result.status == 0)
        struct Listing: Decodable, Equatable { var kind: String; var origin: String; var parameters: [Parameter]? }
        struct Parameter: Decodable, Equatable { var key: String }
        let stages = try JSONDecoder().decode([String: [Listing]].self, from: Data(result.stdout.utf8))["stages"] ?? []
        #expect(stages.map(\.kind) == ["min_max", "standard_scale", "batch_norm", "batch_renorm", "robust_scale"])
        #expect(stages.map(\.origin) == ["builtin", "builtin", "builtin", "builtin", "plugin"])
        #expect(stages.last?.parameters == nil)
        #expect(stages.first?.parameters?.map(\.key) == ["convention", "feature_range", "clip"])
    }

    @Test func aPluginThatCannotLoadIsAConfigError() throws {
        let scratch = try ScratchDirectory()
        try scratch.write(config("libs/nope.so"), to: "cfg.yaml")
        let result = try Normd.run(["stages", "--config", "cfg.yaml"], in: scratch)
        #expect(result.status == 78)
        #expect(result.stdout == "")
        #expect(
            result.stderrLines == [
                "cfg.yaml:2:5: plugins[0]: plugin 'libs/nope.so': no such file (\(scratch.path("libs/nope.so")))",
                "cfg.yaml: 1 error",
            ])
    }
}
