import Pipeline
import Testing

/// When a pipeline copies its statistics out for a checkpoint.
@Suite struct CheckpointCadenceTests {
    let start = ContinuousClock.now

    @Test func everyNTrainBatches() {
        var cadence = CheckpointCadence(everyBatches: 3, every: nil)
        let due1 = cadence.recordTrainBatch(now: start)
        #expect(!due1)
        let due2 = cadence.recordTrainBatch(now: start)
        #expect(!due2)
        let due3 = cadence.recordTrainBatch(now: start)
        #expect(due3)
        cadence.snapshotTaken()
        #expect(!cadence.hasChanges)
        #expect(!cadence.isDue(now: start + .seconds(3600)))
    }

    @Test func changedStatisticsWaitAtMostTheInterval() {
        var cadence = CheckpointCadence(everyBatches: 0, every: .seconds(30))
        #expect(cadence.deadline == nil)
        let due4 = cadence.recordTrainBatch(now: start)
        #expect(!due4)
        let due5 = cadence.recordTrainBatch(now: start + .seconds(20))
        #expect(!due5)
        #expect(cadence.deadline == start + .seconds(30))
        #expect(!cadence.isDue(now: start + .seconds(29)))
        #expect(cadence.isDue(now: start + .seconds(30)))
    }

    @Test func anIdlePipelineIsNeverDue() {
        let cadence = CheckpointCadence(everyBatches: 1, every: .milliseconds(1))
        #expect(!cadence.hasChanges)
        #expect(!cadence.isDue(now: start + .seconds(10)))
    }
}
