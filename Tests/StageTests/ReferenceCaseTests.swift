import NormCore
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
        let reference = try ReferenceCase.load(fileName)
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
            failures += outputs.compare(batch.values.map(Double.init), step.output.flatMap { $0.map(Double.init) },
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
        print("[reference] \(fileName): worst output ratio \(outputs.worstRatio) at \(outputs.worstWhere); worst state ratio \(state.worstRatio) at \(state.worstWhere)")
    }
}
