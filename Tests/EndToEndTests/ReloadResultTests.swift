import Foundation
import Testing

@testable import normd

/// The JSON `POST /reload` answers (issue 9 §2), exactly.
@Suite struct ReloadResultTests {
    @Test func successListsKeptAndResetStagesAndPipelineNames() {
        let result = ReloadResult.success(
            kept: [.init(pipeline: "sensors", stage: 0, kind: "min_max")],
            reset: [.init(pipeline: "sensors", stage: 1, kind: "batch_norm")], added: [], removed: [])
        #expect(
            result.json == #"{"result":"success","kept":[{"kind":"min_max","pipeline":"sensors","stage":0}],"#
                + #""reset":[{"kind":"batch_norm","pipeline":"sensors","stage":1}],"added":[],"removed":[]}"#)
        #expect(result.succeeded)
    }

    @Test func failureListsTheLocatedProblems() {
        let result = ReloadResult.failure(problems: [#"normd.yaml:11:19: pipelines[0].stages[1].momentum: must be from 0 to 1, got "7""#])
        #expect(
            result.json == #"{"result":"failure","problems":["normd.yaml:11:19: pipelines[0].stages[1].momentum: must be from 0 to 1, got \"7\""]}"#)
        #expect(!result.succeeded)
        #expect(result.logMetadata.mapValues { "\($0)" } == ["result": "failure", "problems": "1"])
    }
}
