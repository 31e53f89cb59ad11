import NormCore
import NormTesting
import StageKit
import Testing

/// Replays every reference case (real tf_keras / torch / sklearn runs) through normd's stages.
@Suite struct ReferenceCaseTests {
    static let expectedCaseCount = 12

    @Test func theCasesFolderHoldsEveryCase() {
        let names = ReferenceCase.fileNames()
        #expect(names.count == Self.expectedCaseCount, "expected \(Self.expectedCaseCount) cases in \(ReferenceCase.folderPath), found \(names)")
    }

    @Test(arguments: ReferenceCase.fileNames().isEmpty ? ["<no case files in ../shared/reference/cases>"] : ReferenceCase.fileNames())
    func replaysTheLibrary(fileName: String) throws {
        try Self.replay(fileName, from: .shared)
    }

    /// Replays one case step by step through a one-stage chain built from its configuration;
    /// outputs and every state vector within the reference tolerance, counters exact.
    static func replay(_ fileName: String, from folder: ReferenceCase.Folder) throws {
        let reference = try ReferenceCase.load(fileName, from: folder)
        let built = ChainFactory.build(stages: [reference.stageConfig], featureCount: reference.featureCount)
        #expect(built.diagnostics.issues.map(\.description) == [], "building \(fileName)")
        let chain = try #require(built.chain)

        var outputs = ToleranceMeter.outputs
        var state = ToleranceMeter.state
        var failures: [String] = []
        for (index, step) in reference.steps.enumerated() {
            var batch = FeatureBatch(rowsOf: step.input, features: reference.featureCount)
            let outcome = try chain.process(&batch, mode: step.mode)
            #expect(outcome.mode == step.mode, "step \(index) ran as \(outcome.mode)")
            failures += outputs.compare(
                batch.values.map(Double.init), step.output.flatMap { $0.map(Double.init) },
                at: "step \(index) output")

            let saved = chain.saveState()[0]
            #expect(Set(saved.statistics.keys) == Set(step.stateVectors.keys), "step \(index) state vectors")
            for (name, expected) in step.stateVectors {
                let got = saved.statistics[name] ?? []
                #expect(got.count == expected.count, "step \(index) \(name) length")
                failures += state.compare(got, expected, at: "step \(index) \(name)")
            }
            for (name, expected) in step.stateCounters {
                #expect(saved.counters[name] == expected, "step \(index) counter \(name)")
            }
        }
        #expect(failures == [], "\(fileName): out of tolerance")
        print(
            "[reference] \(fileName): worst output ratio \(outputs.worstRatio) at \(outputs.worstWhere); worst state ratio \(state.worstRatio) at \(state.worstWhere)"
        )
    }
}

/// Replays the cases this repository generates with the real scikit-learn
/// (`Scripts/make_reference_cases.py` → `Tests/ReferenceCases`: `standard_scale`).
@Suite struct ProjectReferenceCaseTests {
    static let expectedCaseCount = 6

    @Test func theCasesFolderHoldsEveryCase() {
        let names = ReferenceCase.fileNames(in: .project)
        #expect(
            names.count == Self.expectedCaseCount, "expected \(Self.expectedCaseCount) cases in \(ReferenceCase.Folder.project.path), found \(names)")
    }

    @Test(
        arguments: ReferenceCase.fileNames(in: .project).isEmpty ? ["<no case files in Tests/ReferenceCases>"] : ReferenceCase.fileNames(in: .project)
    )
    func replaysScikitLearn(fileName: String) throws {
        try ReferenceCaseTests.replay(fileName, from: .project)
    }
}
