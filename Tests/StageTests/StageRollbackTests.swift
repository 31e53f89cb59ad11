import BatchNorm
import BatchRenorm
import MinMax
import NormCore
import NormTesting
import StageKit
import Testing

/// Every built-in stage puts its statistics back exactly when a later stage fails the batch, and
/// its counters saturate instead of trapping when a state file holds Int64.max.
@Suite struct StageRollbackTests {
    static let features = 3

    static func builtIns() -> [any Stage] {
        let keras = KerasBatchNormOptions(featureCount: features, momentum: 0.9)
        return [
            MinMaxStage(featureCount: features, range: MinMaxRange(low: -1, high: 1), clip: true),
            KerasBatchNormStage(featureCount: features, options: keras),
            TorchBatchNormStage(featureCount: features, options: TorchBatchNormOptions(featureCount: features)),
            TorchBatchNormStage(featureCount: features, options: TorchBatchNormOptions(featureCount: features, momentum: nil)),
            BatchRenormStage(
                featureCount: features, options: keras, renormMomentum: 0.9,
                clipping: RenormClipping(rmax: 2, rmin: 0.5, dmax: 1), warmup: RenormWarmup(start: 1, end: 4)),
        ]
    }

    static func batch(_ seed: Float) -> FeatureBatch {
        FeatureBatch(rowsOf: (0..<6).map { row in (0..<features).map { column in seed + Float(row * features + column) * 0.25 } }, features: features)
    }

    @Test("a failure after a built-in stage leaves its statistics bit for bit as before", arguments: 0..<5)
    func rollsBack(index: Int) throws {
        let stage = Self.builtIns()[index]
        #expect(stage is any StatisticsTransaction)
        let chain = StageChain(
            links: [
                ChainLink(stage: stage, columns: .all(Self.features)),
                ChainLink(stage: FailingStage(featureCount: Self.features), columns: .all(Self.features)),
            ],
            featureCount: Self.features)
        // Learn something first (through a chain without the failing stage), so "before" is not the initial state.
        let warm = StageChain(links: [ChainLink(stage: stage, columns: .all(Self.features))], featureCount: Self.features)
        for seed in [1, 5] as [Float] {
            var batch = Self.batch(seed)
            try warm.process(&batch, mode: .train)
        }
        let before = stage.saveState()
        var batch = Self.batch(40)
        #expect(throws: StageError.self) { try chain.process(&batch, mode: .train) }
        #expect(stage.saveState() == before)
        // And the next successful batch trains from the restored statistics exactly as if the failed one never happened.
        let twin = Self.builtIns()[index]
        try twin.restoreState(before)
        var once = Self.batch(7), again = Self.batch(7)
        try warm.process(&once, mode: .train)
        try StageChain(links: [ChainLink(stage: twin, columns: .all(Self.features))], featureCount: Self.features).process(&again, mode: .train)
        #expect(once == again && stage.saveState() == twin.saveState())
    }

    @Test(
        "counters restored at Int64.max saturate on the next train batch instead of trapping",
        arguments: [
            (0, "n_samples_seen"), (2, "num_batches_tracked"), (3, "num_batches_tracked"), (4, "train_batches"),
        ])
    func countersSaturate(index: Int, counter: String) throws {
        let stage = Self.builtIns()[index]
        var batch = Self.batch(1)
        try StageChain(links: [ChainLink(stage: stage, columns: .all(Self.features))], featureCount: Self.features).process(&batch, mode: .train)
        var state = stage.saveState()
        state.counters[counter] = .max
        try stage.restoreState(state)
        var next = Self.batch(2)
        try StageChain(links: [ChainLink(stage: stage, columns: .all(Self.features))], featureCount: Self.features).process(&next, mode: .train)
        #expect(stage.saveState().counters[counter] == .max)
        #expect(next.firstNonFinite() == nil)
    }
}
