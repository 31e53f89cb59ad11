import Foundation
import NormCore
import NormTesting
import Testing

/// Replays every reference case through the real `normd apply`, one subprocess per step, carrying
/// statistics between steps in a state file — the whole path a user takes: YAML, .npy in and out,
/// state file round trips.
@Suite struct ReferenceReplayTests {
    static let caseFiles: [String] = ReferenceCase.fileNames()

    @Test func allTwelveReferenceCasesArePresent() {
        #expect(Self.caseFiles.count == 12, "expected 12 cases in \(ReferenceCase.Folder.shared.path), found \(Self.caseFiles.count)")
    }

    @Test(arguments: caseFiles)
    func replayMatchesTheLibrary(caseFile: String) throws {
        try replay(try ReferenceCase.load(caseFile, from: .shared))
    }

    static let projectCaseFiles: [String] = ReferenceCase.fileNames(in: .project)

    /// The `standard_scale` cases made by the real scikit-learn (`Scripts/make_reference_cases.py`).
    @Test func allSixProjectReferenceCasesArePresent() {
        #expect(Self.projectCaseFiles.count == 6, "expected 6 cases in \(ReferenceCase.Folder.project.path), found \(Self.projectCaseFiles)")
    }

    @Test(arguments: projectCaseFiles)
    func replayMatchesScikitLearn(caseFile: String) throws {
        try replay(try ReferenceCase.load(caseFile, from: .project))
    }

    private func replay(_ reference: ReferenceCase) throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(reference.pipelineConfiguration(), to: "normd.yaml")
        let state = scratch.path("state.json")
        var worstOutput = 0.0, worstState = 0.0

        for (index, step) in reference.steps.enumerated() {
            let input = scratch.path("step\(index).npy"), output = scratch.path("out\(index).npy")
            try NpyFixture.writeFloat32(step.input, columns: reference.featureCount, to: input)
            let result = try Normd.run([
                "apply", "--config", config, "--mode", step.mode.rawValue, "--batch-size", "\(step.input.count)",
                "--state", state, "--input", input, "--output", output,
            ])
            try #require(result.status == 0, "step \(index): normd apply failed: \(result.stderr)")

            let got = try NpyFixture.readFloat32(output)
            #expect(got.rows == step.output.count && got.columns == reference.featureCount, "step \(index): shape")
            for (row, expectedRow) in step.output.enumerated() {
                for (column, expectedValue) in expectedRow.enumerated() {
                    let expected = Double(expectedValue)
                    let value = Double(got.values[row * reference.featureCount + column])
                    let ratio = abs(value - expected) / (1e-4 + 1e-5 * abs(expected))
                    worstOutput = max(worstOutput, ratio)
                    #expect(ratio <= 1, "step \(index) output[\(row)][\(column)]: got \(value), expected \(expected)")
                }
            }
            worstState = max(worstState, try compareState(at: state, with: step, step: index))
        }
        print(
            "\(reference.name): worst ratio to tolerance: outputs \(String(format: "%.3f", worstOutput)), state \(String(format: "%.3f", worstState))"
        )
    }

    /// Compares the state file's statistics/counters with `expected`; returns the worst ratio to tolerance.
    private func compareState(at path: String, with expected: ReferenceCase.Step, step: Int) throws -> Double {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        let body = try #require(object?["body"] as? [String: Any])
        let stage = try #require(((body["pipelines"] as? [[String: Any]])?.first?["stages"] as? [[String: Any]])?.first)
        let statistics = stage["statistics"] as? [String: [NSNumber]] ?? [:]
        let counters = stage["counters"] as? [String: NSNumber] ?? [:]
        var worst = 0.0
        for (name, vector) in expected.stateVectors.sorted(by: { $0.key < $1.key }) {
            guard let saved = statistics[name], saved.count == vector.count else {
                Issue.record("step \(step): state file lacks statistic '\(name)' of \(vector.count) values (has \(statistics.keys.sorted()))")
                continue
            }
            for (feature, (got, want)) in zip(saved.map(\.doubleValue), vector).enumerated() {
                let ratio = abs(got - want) / (1e-6 + 1e-5 * abs(want))
                worst = max(worst, ratio)
                #expect(ratio <= 1, "step \(step) \(name)[\(feature)]: got \(got), expected \(want)")
            }
        }
        for (name, number) in expected.stateCounters.sorted(by: { $0.key < $1.key }) {
            #expect(
                counters[name]?.int64Value == number, "step \(step) counter \(name): got \(String(describing: counters[name])), expected \(number)")
        }
        return worst
    }
}
