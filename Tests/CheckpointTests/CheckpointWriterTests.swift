import Checkpoint
import Foundation
import Logging
import NormTesting
import Pipeline
import StageKit
import Testing

/// The writer thread: snapshots in, generations out, old ones pruned, nothing half-written left.
@Suite struct CheckpointWriterTests {
    private func snapshot(_ name: String, batches: Int) throws -> StateSnapshot {
        let chain = try Fixtures.trainedChain(name, batches: batches)
        return StateSnapshot(pipeline: name, states: chain.saveState(), statsVersion: chain.statsVersion)
    }

    private func waitFor(_ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(5)
        while try !condition() {
            try #require(Date() < deadline, "timed out")
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    @Test func eachOfferBecomesAGenerationAndOnlyKeepAreKept() async throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        let writer = CheckpointWriter(
            directory: directory, keep: 2, document: try Fixtures.document(batches: 0),
            nextGeneration: 1, logger: Logger(label: "test"))
        writer.start()
        for batches in 1...4 {
            writer.offer(try snapshot("p", batches: batches))
            try waitFor { (try? directory.generations())?.last?.number == UInt64(batches) }
        }
        writer.offer(try snapshot("q", batches: 3))
        await writer.finish()

        #expect(try temporary.contents() == ["normd-state-00000004.json", "normd-state-00000005.json"])
        let loaded = try #require(try directory.loadNewestValid())
        #expect(loaded.generation.number == 5)
        var expected = try Fixtures.document(batches: 0)
        expected.upsert(PipelineStateRecord(name: "p", chain: try Fixtures.trainedChain("p", batches: 4)))
        expected.upsert(PipelineStateRecord(name: "q", chain: try Fixtures.trainedChain("q", batches: 3)))
        #expect(loaded.document == expected)
    }

    @Test func finishWritesOnlyWhenSomethingChanged() async throws {
        let temporary = try TemporaryDirectory()
        let writer = CheckpointWriter(
            directory: CheckpointDirectory(path: temporary.path), keep: 3,
            document: try Fixtures.document(batches: 1), nextGeneration: 8, logger: Logger(label: "test"))
        writer.start()
        await writer.finish()
        #expect(try temporary.contents() == [])

        let first = CheckpointWriter(
            directory: CheckpointDirectory(path: temporary.path), keep: 3,
            document: try Fixtures.document(batches: 1), nextGeneration: 8, writeAtFinish: true,
            logger: Logger(label: "test"))
        first.start()
        await first.finish()
        #expect(try temporary.contents() == ["normd-state-00000008.json"])
    }

    @Test func aSnapshotOfAnUnknownPipelineChangesNothing() async throws {
        let temporary = try TemporaryDirectory()
        let writer = CheckpointWriter(
            directory: CheckpointDirectory(path: temporary.path), keep: 3,
            document: try Fixtures.document(batches: 1), nextGeneration: 1, logger: Logger(label: "test"))
        writer.start()
        writer.offer(StateSnapshot(pipeline: "nope", states: [], statsVersion: 1))
        await writer.finish()
        #expect(try temporary.contents() == [])
        #expect(writer.document == (try Fixtures.document(batches: 1)))
    }
}
