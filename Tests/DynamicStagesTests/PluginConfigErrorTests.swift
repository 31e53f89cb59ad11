import Foundation
import NormTesting
import Testing

/// A plugin's own refusal of its configuration is reported like a built-in stage's: at the key it
/// names, with file:line:col and the stage's config path.
@Suite struct PluginConfigErrorTests {
    @Test func bothExamplesReportTheOffendingKeyAtItsPosition() throws {
        try BuildProducts.require(BuildProducts.robustScale)
        try BuildProducts.require(BuildProducts.log1p)
        let scratch = try ScratchDirectory()
        let result = try Normd.validate(
            """
            plugins:
              - \(BuildProducts.robustScale)
              - \(BuildProducts.log1p)
            pipelines:
              - name: p
                features: 2
                stages:
                  - type: robust_scale
                    step: 1.5
                  - type: log1p
                    offset: -3
                  - type: robust_scale
                    quantile: 0.9
                  - type: log1p
                    offset: soon

            """, in: scratch)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "cfg.yaml:9:15: pipelines[0].stages[0].step: must be in (0, 1], got 1.5",
                "cfg.yaml:11:17: pipelines[0].stages[1].offset: must be a finite number > -1, got -3",
                "cfg.yaml:13:19: pipelines[0].stages[2].quantile: unknown key 'quantile'; expected one of: step, eps",
                "cfg.yaml:15:17: pipelines[0].stages[3].offset: expected a number",
                "cfg.yaml: 4 errors",
            ])
    }

    @Test func aDirectoryLoadsEverySharedLibraryInIt() throws {
        try BuildProducts.require(BuildProducts.robustScale)
        try BuildProducts.require(BuildProducts.log1p)
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch.path("plugins"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: BuildProducts.robustScale, toPath: scratch.path("plugins/librobust_scale.so"))
        try FileManager.default.copyItem(atPath: BuildProducts.log1p, toPath: scratch.path("plugins/liblog1p.so"))
        let result = try Normd.validate(
            """
            plugins: [plugins]
            pipelines:
              - name: p
                features: 2
                stages: [{type: log1p}, {type: robust_scale, eps: 0.001}]

            """, in: scratch)
        #expect(result.stderrLines == [])
        #expect(result.stdoutLines == ["cfg.yaml: 1 pipeline, 2 stages: ok"])
        #expect(result.status == 0)
    }

    @Test func anEmptyDirectoryIsAWarning() throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch.path("empty"), withIntermediateDirectories: true)
        let result = try Normd.validate("plugins: [empty]\npipelines:\n  - {name: p, features: 2, stages: [{type: min_max}]}\n", in: scratch)
        #expect(result.stderrLines == ["cfg.yaml:1:11: warning: plugins[0]: plugin directory 'empty' holds no .so file"])
        #expect(result.stdoutLines == ["cfg.yaml: 1 pipeline, 1 stage: ok (1 warning)"])
        #expect(result.status == 0)
    }
}
