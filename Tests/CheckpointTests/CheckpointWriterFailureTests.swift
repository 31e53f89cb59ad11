import Checkpoint
import Foundation
import Logging
import Pipeline
import StageKit
import Testing

/// What the writer reports when the directory breaks: the final outcome the daemon turns into
/// exit 73, the failure count, and a vanished generation that must not be named as the final one.
@Suite struct CheckpointWriterFailureTests {
    private func snapshot(_ name: String, batches: Int) throws -> StateSnapshot {
        let chain = try Fixtures.trainedChain(name, batches: batches)
        return StateSnapshot(pipeline: name, states: chain.saveState(), statsVersion: chain.statsVersion)
    }

    @Test func aDirectoryReplacedByAFileMakesTheFinalCheckpointFail() async throws {
        let temporary = try TemporaryDirectory()
        let path = temporary.path + "/state"
        let directory = CheckpointDirectory(path: path)
        try directory.create()
        let writer = CheckpointWriter(
            directory: directory, keep: 3, document: try Fixtures.document(batches: 0),
            nextGeneration: 1, logger: Logger(label: "test"))
        writer.start()
        try FileManager.default.removeItem(atPath: path)
        try "a file".write(toFile: path, atomically: false, encoding: .utf8)
        writer.offer(try snapshot("p", batches: 2))
        let final = await writer.finish()
        guard case .failed = final else {
            Issue.record("expected a failed final checkpoint, got \(final)")
            return
        }
        #expect(writer.writeFailures >= 1)
    }

    @Test func aVanishedGenerationIsWrittenAgainAtFinish() async throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        let writer = CheckpointWriter(
            directory: directory, keep: 3, document: try Fixtures.document(batches: 0),
            nextGeneration: 1, logger: Logger(label: "test"))
        writer.start()
        writer.offer(try snapshot("p", batches: 1))
        let deadline = Date().addingTimeInterval(5)
        while try directory.generations().isEmpty { try #require(Date() < deadline); try await Task.sleep(for: .milliseconds(5)) }
        try FileManager.default.removeItem(atPath: temporary.path + "/normd-state-00000001.json")
        let final = await writer.finish()
        guard case .written(let generation) = final else {
            Issue.record("expected a written final checkpoint, got \(final)")
            return
        }
        #expect(generation.number == 2 && generation.path == temporary.path + "/normd-state-00000002.json")
        #expect(try temporary.contents() == ["normd-state-00000002.json"])
        #expect(writer.writeFailures == 0)
    }
}
