import BuiltinStages
import StageKit
import Testing

/// Resolves the sketch through `StageResolver` and returns every issue as printed.
func issues(_ entries: [(String, YAMLSketch)], featureCount: Int = 3, batchSize: Int = 16) -> (built: Bool, messages: [String]) {
    let diagnostics = ConfigDiagnostics()
    let plans = StageResolver.resolve(
        stages: YAMLSketch.stages(entries), path: ConfigPath.root.appending("pipelines").appending(index: 0).appending("stages"),
        pipeline: "p", featureCount: featureCount, batchSize: batchSize, registry: BuiltinStages.registry(),
        diagnostics: diagnostics)
    return (plans != nil, diagnostics.issues.map(\.description))
}

/// Asserts the whole list of printed issues and whether the chain was built.
func expectIssues(
    _ entries: [(String, YAMLSketch)], _ expected: [String], built expectedBuilt: Bool? = nil,
    batchSize: Int = 16, sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let result = issues(entries, batchSize: batchSize)
    #expect(result.messages == expected, sourceLocation: sourceLocation)
    let shouldBuild = expectedBuilt ?? expected.allSatisfy { $0.contains(": warning: ") }
    #expect(result.built == shouldBuild, "built", sourceLocation: sourceLocation)
}
