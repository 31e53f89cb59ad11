import Logging
import NormCore
import NormTesting
import Pipeline
import StageKit
import Testing

func makeEngine(
    batchSize: Int = 4, features: Int = 2, minRows: Int = 2, policy: InvalidRowPolicy = .rejectMessage,
    latency: Duration = .milliseconds(50)
) -> (PipelineEngine, CollectingSink, MarkingStage) {
    let stage = MarkingStage(featureCount: features)
    let chain = StageChain(links: [ChainLink(stage: stage, columns: .all(features))], featureCount: features, minTrainingRows: minRows)
    let sink = CollectingSink()
    let engine = PipelineEngine(
        settings: .init(name: "p", mode: .train, batchSize: batchSize, maxLatency: latency, invalidRows: policy),
        chain: chain, sink: sink, logger: Logger(label: "test"))
    return (engine, sink, stage)
}

@Suite("PipelineEngine")
struct PipelineEngineTests {
    @Test("rows are batched in arrival order and a message is split across batches")
    func splitsAcrossBatches() {
        let (engine, sink, _) = makeEngine(batchSize: 4)
        engine.accept(InMemoryRows(values: [[1, 1], [2, 2], [3, 3]], producer: "a", seq: 0), input: 0)
        engine.accept(InMemoryRows(values: [[4, 4], [5, 5], [6, 6]], producer: "a", seq: 1), input: 1)
        #expect(sink.batches.count == 1)
        #expect(sink.batches[0].0.values == [1001, 1001, 1002, 1002, 1003, 1003, 1004, 1004])
        #expect(
            sink.batches[0].1.origins == [
                RowOrigin(input: 0, producer: "a", seq: 0, rows: 0..<3, messageRows: 0..<3),
                RowOrigin(input: 1, producer: "a", seq: 1, rows: 3..<4, messageRows: 0..<1),
            ])
        #expect(engine.pendingRows == 2)
        engine.flushPartial()
        #expect(sink.batches.count == 2)
        #expect(sink.batches[1].1.origins == [RowOrigin(input: 1, producer: "a", seq: 1, rows: 0..<2, messageRows: 1..<3)])
        #expect(sink.batches.map(\.1.sequence) == [0, 1])
        #expect(engine.counts.partialBatches == 1)
    }

    @Test("one message that fills two batches and starts a third: each batch exact, its storage reused")
    func messageSpanningBatches() {
        let (engine, sink, _) = makeEngine(batchSize: 4)
        engine.accept(InMemoryRows(values: [[1, 1]], producer: "a", seq: 0), input: 0)
        engine.accept(InMemoryRows(values: (2...10).map { [Float($0), Float($0)] }, producer: "a", seq: 1), input: 0)
        #expect(
            sink.batches.map { $0.0.values } == [
                [1001, 1001, 1002, 1002, 1003, 1003, 1004, 1004], [1005, 1005, 1006, 1006, 1007, 1007, 1008, 1008],
            ])
        #expect(
            sink.batches.map(\.1.origins) == [
                [
                    RowOrigin(input: 0, producer: "a", seq: 0, rows: 0..<1, messageRows: 0..<1),
                    RowOrigin(input: 0, producer: "a", seq: 1, rows: 1..<4, messageRows: 0..<3),
                ],
                [RowOrigin(input: 0, producer: "a", seq: 1, rows: 0..<4, messageRows: 3..<7)],
            ])
        #expect(engine.pendingRows == 2)
        engine.flushPartial()
        #expect(sink.batches.last?.0.values == [1009, 1009, 1010, 1010])
        #expect(sink.batches.last?.1.origins == [RowOrigin(input: 0, producer: "a", seq: 1, rows: 0..<2, messageRows: 7..<9)])
        var expected = PipelineCounts()
        expected.messagesAccepted = 2
        expected.rowsAccepted = 10
        expected.batchesPublished = 3
        expected.rowsPublished = 10
        expected.partialBatches = 1
        #expect(engine.counts == expected)
    }

    @Test("the sink may read the engine's counts while it publishes: no access to the per-message state is open then")
    func sinkReadsCountsDuringPublish() {
        final class ReadingSink: BatchSink {
            weak var engine: PipelineEngine?
            var seen: [(accepted: Int, pending: Int)] = []
            func publish(_ batch: inout FeatureBatch, _ info: PublishedBatch) -> Bool {
                if let engine { seen.append((engine.counts.messagesAccepted, engine.pendingRows)) }
                return true
            }
        }
        let sink = ReadingSink()
        let engine = PipelineEngine(
            settings: .init(name: "p", mode: .infer, batchSize: 2, maxLatency: .seconds(60), invalidRows: .rejectMessage),
            chain: StageChain(links: [], featureCount: 2), sink: sink, logger: Logger(label: "test"))
        sink.engine = engine
        for seq in 0..<5 { engine.accept(InMemoryRows(values: [[1, 1]], producer: "a", seq: UInt64(seq)), input: 0) }
        engine.flushPartial()
        #expect(sink.seen.map(\.accepted) == [2, 4, 5])
        #expect(sink.seen.map(\.pending) == [0, 0, 0], "the batch being published has left the batcher")
    }

    @Test("a partial batch is due max_latency after its oldest row arrived")
    func latencyDeadline() {
        let (engine, sink, _) = makeEngine(batchSize: 4, latency: .milliseconds(50))
        let t0 = ContinuousClock.now
        engine.accept(InMemoryRows(values: [[1, 1], [2, 2]]), input: 0, arrival: t0)
        engine.accept(InMemoryRows(values: [[3, 3]]), input: 0, arrival: t0 + .milliseconds(30))
        #expect(engine.flushDeadline == t0 + .milliseconds(50))
        engine.flushIfDue(now: t0 + .milliseconds(49))
        #expect(sink.batches.isEmpty)
        engine.flushIfDue(now: t0 + .milliseconds(50))
        #expect(sink.batches.count == 1 && sink.batches[0].0.rows == 3)
        #expect(sink.batches[0].1.outcome.mode == .train, "3 rows ≥ min_rows 2 still train")
        #expect(engine.flushDeadline == nil)
    }

    @Test("an arrival stamped before the last batch was published counts from that publication (one clock reading per burst)")
    func staleArrivalRaisedToLastPublication() throws {
        let (engine, sink, _) = makeEngine(batchSize: 2, latency: .milliseconds(50))
        let before = ContinuousClock.now
        // One reading for the whole burst, as if the batch's publication then blocked for a second.
        let burst = before - .seconds(1)
        for seq in 0..<3 { engine.accept(InMemoryRows(values: [[1, 1]], producer: "a", seq: UInt64(seq)), input: 0, arrival: burst) }
        #expect(sink.batches.count == 1)
        let deadline = try #require(engine.flushDeadline)
        #expect(deadline >= before + .milliseconds(50), "the third row's wait starts after the publication")
        engine.flushIfDue(now: before + .milliseconds(49))
        #expect(sink.batches.count == 1 && engine.pendingRows == 1)
    }

    @Test("a partial batch below min_rows is published in infer mode, never dropped")
    func tinyPartialBatchRunsInfer() {
        let (engine, sink, stage) = makeEngine(batchSize: 4, minRows: 2)
        engine.accept(InMemoryRows(values: [[1, 1]]), input: 0)
        engine.flushPartial()
        #expect(sink.batches.count == 1)
        #expect(sink.batches[0].1.outcome == ChainOutcome(mode: .infer, downgrade: .tooFewRows(rows: 1, minimum: 2)))
        #expect(stage.trainBatches == 0)
        #expect(engine.counts.batchesDowngraded == 1)
    }

    @Test("wrong width and non-finite messages are rejected and counted; the pipeline goes on")
    func rejections() {
        let (engine, sink, _) = makeEngine(batchSize: 2)
        #expect(engine.accept(InMemoryRows(values: [[1, 2, 3]]), input: 0) == .wrongWidth(expected: 2, got: 3))
        #expect(engine.accept(InMemoryRows(values: [[1, 2], [3, .nan]]), input: 0) == .nonFinite(row: 1, column: 1))
        #expect(engine.accept(InMemoryRows(values: [[1, 2], [3, 4]]), input: 0) == nil)
        #expect(engine.counts.messagesRejected == ["wrong_width": 1, "non_finite": 1])
        #expect(sink.batches.count == 1)
        #expect(engine.counts.summary.contains("messages_rejected={non_finite: 1, wrong_width: 1}"))
    }

    @Test("drop_rows keeps the finite rows of a message and counts the rest")
    func dropRows() {
        let (engine, sink, _) = makeEngine(batchSize: 3, policy: .dropRows)
        #expect(engine.accept(InMemoryRows(values: [[1, 1], [.infinity, 2], [3, 3], [4, 4]], seq: 5), input: 0) == nil)
        #expect(engine.counts.rowsDropped == ["non_finite": 1])
        #expect(sink.batches.count == 1)
        #expect(sink.batches[0].0.values == [1001, 1001, 1003, 1003, 1004, 1004])
        #expect(sink.batches[0].1.origins.map(\.messageRows) == [0..<1, 2..<4])
    }

    @Test("gaps in a producer's seq are counted per producer")
    func sequenceGaps() {
        let (engine, _, _) = makeEngine(batchSize: 100)
        for (producer, seq) in [("a", 0), ("b", 0), ("a", 1), ("a", 4), ("b", 1), ("a", 2)] as [(String, UInt64)] {
            engine.accept(InMemoryRows(values: [[1, 1]], producer: producer, seq: seq), input: 0)
        }
        #expect(engine.counts.sequenceGaps == 1)
        #expect(engine.counts.messagesMissed == 2)
        #expect(engine.counts.sequenceRestarts == 1)
    }

    @Test("a batch the output refuses is counted as dropped")
    func outputDrops() {
        let (engine, sink, _) = makeEngine(batchSize: 1, minRows: 1)
        sink.accept = false
        engine.accept(InMemoryRows(values: [[1, 1]]), input: 0)
        #expect(engine.counts.batchesDropped == 1)
        #expect(engine.board.snapshot.batchesDropped == 1, "visible to other threads")
    }
}

@Suite("PipelineEngine: a stage that fails")
struct PipelineEngineStageFailureTests {
    func engine(failsInInfer: Bool) -> (PipelineEngine, CollectingSink, MarkingStage, MarkingStage) {
        let first = MarkingStage(featureCount: 2), last = MarkingStage(featureCount: 2)
        let chain = StageChain(
            links: [
                ChainLink(stage: first, columns: .all(2)),
                ChainLink(stage: FailingStage(featureCount: 2, failsInInfer: failsInInfer), columns: .all(2)),
                ChainLink(stage: last, columns: .all(2)),
            ], featureCount: 2)
        let sink = CollectingSink()
        let engine = PipelineEngine(
            settings: .init(name: "p", mode: .train, batchSize: 2, maxLatency: .seconds(60), invalidRows: .rejectMessage),
            chain: chain, sink: sink, logger: Logger(label: "test"))
        return (engine, sink, first, last)
    }

    @Test("a train batch failing at stage 2 of 3 is re-run from its original rows in infer mode and published, downgraded")
    func republishedInInfer() throws {
        let (engine, sink, first, last) = engine(failsInInfer: false)
        engine.accept(InMemoryRows(values: [[1, 2], [3, 4]], producer: "a", seq: 0), input: 0)
        engine.accept(InMemoryRows(values: [[5, 6], [7, 8]], producer: "a", seq: 1), input: 0)
        #expect(sink.batches.count == 2)
        let (batch, info) = try #require(sink.batches.first)
        // Original rows, through all three stages in infer mode: +1000, +1, +1000.
        #expect(batch == FeatureBatch(rowsOf: [[2002, 2003], [2004, 2005]], features: 2))
        #expect(info.sequence == 0 && sink.batches[1].1.sequence == 1, "no gap in the batch numbers")
        #expect(
            info.outcome
                == ChainOutcome(
                    mode: .infer,
                    downgrade: .stageFailed(
                        .inStage(index: 1, kind: "failing", .failed(kind: "failing", "boom")))))
        #expect(info.outcome.downgrade?.description == "stage failed: stages[1] (failing): boom")
        #expect(info.statsVersion == 0)
        #expect(first.trainBatches == 2 && last.trainBatches == 0, "the first stage ran in train mode; its statistics were set aside and put back")
        var expected = PipelineCounts()
        expected.messagesAccepted = 2
        expected.rowsAccepted = 4
        expected.batchesPublished = 2
        expected.rowsPublished = 4
        expected.batchesDowngraded = 2
        expected.batchesFailed = 2
        #expect(engine.counts == expected)
        #expect(engine.counts.summary.hasSuffix("downgraded=2 batches_dropped=0 batches_failed=2"))
    }

    @Test("when infer fails too, the rows are counted as rows_dropped{stage_failed} and the batch number is skipped")
    func droppedWhenInferFails() {
        let (engine, sink, _, _) = engine(failsInInfer: true)
        engine.accept(InMemoryRows(values: [[1, 2], [3, 4], [5, 6]], producer: "a", seq: 0), input: 0)
        #expect(sink.batches.isEmpty)
        var expected = PipelineCounts()
        expected.messagesAccepted = 1
        expected.rowsAccepted = 3
        expected.batchesFailed = 1
        expected.rowsDropped = ["stage_failed": 2]
        #expect(engine.counts == expected)
        #expect(engine.counts.summary.contains("rows_dropped={stage_failed: 2}"))
    }
}
