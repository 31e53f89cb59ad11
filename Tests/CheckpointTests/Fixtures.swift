import BuiltinStages
import Checkpoint
import Foundation
import NormConfig
import NormCore
import StageKit
import Testing

/// Chains, documents and directories the checkpoint tests share.
enum Fixtures {
    static let yaml = """
        pipelines:
          - name: p
            features: 3
            batch: {size: 4}
            stages:
              - type: min_max
              - type: batch_norm
                convention: torch
          - name: q
            features: 2
            batch: {size: 4}
            stages:
              - type: batch_norm
        """

    static func configuration() throws -> NormdConfiguration {
        let result = NormdConfiguration.validate(yaml: yaml, file: "fixture.yaml", registry: BuiltinStages.registry())
        return try #require(result.configuration, "\(result.issues)")
    }

    /// A chain of pipeline `name`, trained on `batches` deterministic batches of 4 rows.
    static func trainedChain(_ name: String, batches: Int) throws -> StageChain {
        let pipeline = try #require(try configuration().pipeline(named: name))
        let chain = try pipeline.makeChain()
        for index in 0..<batches {
            var batch = FeatureBatch(rows: 4, features: pipeline.features)
            batch.withUnsafeMutableValues { values in
                for i in values.indices { values[i] = Float((i * 7 + index * 13) % 11) * 0.25 - 1 }
            }
            try chain.process(&batch, mode: .train)
        }
        return chain
    }

    static func document(batches: Int) throws -> StateDocument {
        StateDocument(pipelines: [
            PipelineStateRecord(name: "p", chain: try trainedChain("p", batches: batches)),
            PipelineStateRecord(name: "q", chain: try trainedChain("q", batches: batches)),
        ])
    }
}

/// A fresh directory per test, removed at the end.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("normd-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}
