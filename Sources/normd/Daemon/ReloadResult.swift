import Foundation
import Logging

/// What one reload did (SIGHUP, or the admin server's `POST /reload`, issue 9 §2 and §4), as the
/// admin endpoint answers it: 200 with `success`, 422 with `failure`.
///
/// `{"result":"success","kept":[{"pipeline":"p","stage":1,"kind":"batch_norm"}],"reset":[…],"added":[…],"removed":[…]}`
/// or `{"result":"failure","problems":["normd.yaml:12:7: pipelines[0].stages[1].momentum: …"]}`.
/// `added` and `removed` name the pipelines the reload started and stopped.
enum ReloadResult: Sendable, Equatable {
    /// A stage of a pipeline, named as the answer names it.
    struct StageRef: Sendable, Equatable, Codable {
        var pipeline: String
        var stage: Int
        var kind: String
    }

    case success(kept: [StageRef], reset: [StageRef], added: [String], removed: [String])
    /// The running configuration is unchanged; `problems` are located messages as `normd validate` prints them.
    case failure(problems: [String])

    var succeeded: Bool {
        if case .success = self { return true }
        return false
    }

    /// The admin endpoint's body (keys in the order above; no whitespace).
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func encoded(_ value: some Encodable) -> String {
            (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        }
        switch self {
        case .success(let kept, let reset, let added, let removed):
            return "{\"result\":\"success\",\"kept\":\(encoded(kept)),\"reset\":\(encoded(reset)),"
                + "\"added\":\(encoded(added)),\"removed\":\(encoded(removed))}"
        case .failure(let problems):
            return "{\"result\":\"failure\",\"problems\":\(encoded(problems))}"
        }
    }

    /// The same facts as logfmt metadata: stages as `pipeline/index:kind`, comma-separated.
    var logMetadata: Logger.Metadata {
        func names(_ stages: [StageRef]) -> Logger.MetadataValue {
            "\(stages.map { "\($0.pipeline)/\($0.stage):\($0.kind)" }.joined(separator: ","))"
        }
        switch self {
        case .success(let kept, let reset, let added, let removed):
            return [
                "result": "success", "kept": names(kept), "reset": names(reset),
                "added": "\(added.joined(separator: ","))", "removed": "\(removed.joined(separator: ","))",
            ]
        case .failure(let problems):
            return ["result": "failure", "problems": "\(problems.count)"]
        }
    }
}
