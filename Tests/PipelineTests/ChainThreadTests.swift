import Foundation
import Logging
import NormCore
import NormTesting
import Pipeline
import StageKit
import Testing

/// `chain_thread: true` on the engine: the chain runs on a second thread, and everything a caller
/// can see — batches, their headers and order, counts, statistics — is what the engine gives
/// without it. Each scenario runs twice, once per setting, and the two runs are compared whole.
@Suite("PipelineEngine with a chain thread")
struct ChainThreadTests {
    /// Notes the thread it ran on; multiplies by 3 and learns the rows' per-feature sum in train mode.
    final class ThreadNotingStage: Stage {
        let kind = "thread_noting"
        let stateVersion: UInt32 = 1
        let featureCount: Int
        let trainingRowMultiple = 1
        var fingerprint: [String: String] { ["kind": kind] }
        private(set) var threads: Set<String> = []
        private(set) var sums: [Double]

        init(featureCount: Int) {
            self.featureCount = featureCount
            sums = [Double](repeating: 0, count: featureCount)
        }

        func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
            let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?\n"
            threads.insert(String(name.dropLast()))
            if mode == .train { for row in 0..<batch.rows { for f in 0..<featureCount { sums[f] += Double(batch[row, f]) } } }
            batch.withUnsafeMutableValues { values in for i in values.indices { values[i] *= 3 } }
        }

        func saveState() -> StageState { StageState(kind: kind, stateVersion: stateVersion, statistics: ["sum": sums]) }
        func restoreState(_ state: StageState) throws(StageError) { sums = try state.statistic("sum", count: featureCount) }
    }

    /// What a run left: every batch (values and header, without the two clock readings), the counts,
    /// and each stage's saved state.
    struct Run: Equatable {
        var batches: [[Float]] = []
        /// Whole headers, as text: a downgrade's error may carry the NaN a stage wrote, and NaN ≠ NaN.
        var headers: [String] = []
        var modes: [Mode] = []
        var counts = PipelineCounts()
        var states: [StageState] = []
    }

    static func engine(chainThread: Bool, stages: [any Stage], batchSize: Int = 4) -> (PipelineEngine, CollectingSink) {
        let features = stages[0].featureCount
        let chain = StageChain(
            links: stages.map { ChainLink(stage: $0, columns: .all(features)) }, featureCount: features, minTrainingRows: 2)
        let sink = CollectingSink()
        let engine = PipelineEngine(
            settings: .init(
                name: "p", mode: .train, batchSize: batchSize, maxLatency: .seconds(60), invalidRows: .rejectMessage,
                chainThread: chainThread),
            chain: chain, sink: sink, logger: Logger(label: "test"))
        return (engine, sink)
    }

    /// Stands in for the headers' clock readings, which differ between any two runs.
    static let epoch = ContinuousClock.now

    static func result(_ engine: PipelineEngine, _ sink: CollectingSink) -> Run {
        var run = Run()
        for (batch, header) in sink.batches {
            run.batches.append(batch.values)
            var header = header
            header.processDuration = .zero
            header.completedAt = epoch
            run.headers.append(String(describing: header))
            run.modes.append(header.outcome.mode)
        }
        run.counts = engine.counts
        run.states = engine.chain.saveState()
        return run
    }

    /// Messages of 1 to 7 rows of 3 features, from two producers with `seq`, value `row·10 + column`.
    static func message(_ index: Int) -> InMemoryRows {
        let rows = 1 + index * 5 % 7
        return InMemoryRows(
            values: (0..<rows).map { row in (0..<3).map { Float((index * 7 + row) * 10 + $0) } },
            producer: index % 2 == 0 ? "a" : "b", seq: UInt64(index / 2))
    }

    @Test("the same messages give the same batches, headers, counts and statistics, and the chain ran on the other thread")
    func sameOutputAsWithoutTheThread() throws {
        var runs: [Run] = []
        for chainThread in [false, true] {
            let noting = ThreadNotingStage(featureCount: 3)
            let (engine, sink) = Self.engine(chainThread: chainThread, stages: [SummingStage(featureCount: 3), noting])
            for index in 0..<30 {
                engine.accept(Self.message(index), input: index % 2)
                // What a socket loop does between bursts, at uneven intervals.
                if index % 4 == 3 { engine.finishInFlight() }
                if index == 11 { engine.flushPartial() }
                if index == 17 { _ = engine.switchMode(to: .infer) }
                if index == 23 { _ = engine.switchMode(to: .train) }
            }
            engine.flushPartial()
            runs.append(Self.result(engine, sink))
            if chainThread {
                #expect(noting.threads == ["chain-p"], "\(noting.threads)")
            } else {
                #expect(!noting.threads.isEmpty && !noting.threads.contains("chain-p"), "\(noting.threads)")
            }
            engine.stopChainThread()
        }
        #expect(runs[0].batches.count >= 20)
        #expect(runs[0].modes.contains(.infer) && runs[0].modes.contains(.train))
        #expect(runs[0].counts.partialBatches >= 1) // the flush at message 11, and the final one if rows wait
        #expect(runs[1] == runs[0])
    }

    @Test("a full batch is on the chain thread until the engine next needs the chain; then it is published")
    func aBatchWaitsOnTheChainThreadUntilFinished() {
        let (engine, sink) = Self.engine(chainThread: true, stages: [MarkingStage(featureCount: 2)])
        engine.accept(InMemoryRows(values: [[1, 1], [2, 2], [3, 3], [4, 4]], producer: "a", seq: 0), input: 0)
        #expect(sink.batches.isEmpty) // handed over, not yet published
        #expect(engine.counts.batchesPublished == 0)
        engine.accept(InMemoryRows(values: [[5, 5], [6, 6], [7, 7], [8, 8]], producer: "a", seq: 1), input: 0)
        #expect(sink.batches.map(\.0.values) == [[1001, 1001, 1002, 1002, 1003, 1003, 1004, 1004]])
        engine.finishInFlight()
        #expect(sink.batches.map(\.1.sequence) == [0, 1])
        #expect(sink.batches.last?.0.values == [1005, 1005, 1006, 1006, 1007, 1007, 1008, 1008])
        #expect(engine.counts.batchesPublished == 2 && engine.counts.rowsPublished == 8)
        engine.finishInFlight() // nothing in flight: nothing happens
        #expect(sink.batches.count == 2)
        engine.stopChainThread()
    }

    @Test(
        "a train batch a stage fails on is re-run in infer from its original rows, as without the thread",
        arguments: [FailingStage.Failure.throwsError, .writesNaN, .poisonsStatistics])
    func aFailedTrainBatchIsRetriedTheSameWay(_ failure: FailingStage.Failure) {
        var runs: [Run] = []
        for chainThread in [false, true] {
            let (engine, sink) = Self.engine(
                chainThread: chainThread, stages: [FailingStage(featureCount: 2, failure: failure), SummingStage(featureCount: 2)])
            for index in 0..<9 {
                engine.accept(InMemoryRows(values: [[Float(index), 1], [2, Float(index)], [3, 3]], producer: "a", seq: UInt64(index)), input: 0)
            }
            engine.flushPartial()
            runs.append(Self.result(engine, sink))
            engine.stopChainThread()
        }
        #expect(runs[0].counts.batchesFailed == 7 && runs[0].counts.batchesDowngraded == 7, "\(runs[0].counts)")
        #expect(runs[0].modes == [Mode](repeating: .infer, count: 7))
        #expect(runs[1] == runs[0])
    }

    @Test("a reload that turns the thread off publishes the batch it holds first, in order")
    func aReloadTurningTheThreadOffLosesNothing() {
        let (engine, sink) = Self.engine(chainThread: true, stages: [MarkingStage(featureCount: 2)])
        engine.accept(InMemoryRows(values: [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]], producer: "a", seq: 0), input: 0)
        #expect(sink.batches.isEmpty)
        var settings = engine.settings
        settings.chainThread = false
        let chain = StageChain(
            links: [ChainLink(stage: MarkingStage(featureCount: 2), columns: .all(2))], featureCount: 2, minTrainingRows: 2)
        engine.replace(chain: chain, settings: settings)
        #expect(sink.batches.map(\.1.sequence) == [0])
        engine.accept(InMemoryRows(values: [[6, 6], [7, 7], [8, 8]], producer: "a", seq: 1), input: 0)
        #expect(sink.batches.map(\.0.values).last == [1005, 1005, 1006, 1006, 1007, 1007, 1008, 1008])
        #expect(engine.counts.rowsPublished == 8 && engine.pendingRows == 0)
    }
}
