import BatchNorm
import BatchRenorm
import MinMax
import NormCore
import NormTesting
import StageKit
import Testing

/// The chain's train path from summaries (`StageChain.trainFromSummaries`, two passes over the batch)
/// against the stages run one by one: outputs and statistics within the Float32 rounding of the
/// derived moments (not bit-identical, by design), every fallback to the fused path where a condition
/// does not hold (then bit-identical again), and a stage's non-finite output refused with the same
/// error, statistics put back, as on the fused path.
@Suite struct SummaryChainTests {
    static let features = 4

    static func stages(clip: Bool = false, gamma: [Double] = [1.5, 0.5, 1, 2], virtualBatchSize: Int? = nil) -> [any Stage] {
        ChainStages.minMaxBatchNormRenorm(features: features, clip: clip, gamma: gamma, virtualBatchSize: virtualBatchSize)
    }

    static func chain(_ stages: [any Stage], trainPasses: TrainPasses = .summaries) -> StageChain {
        StageChain(links: stages.map { ChainLink(stage: $0, columns: .all(features)) }, featureCount: features, trainPasses: trainPasses)
    }

    static func statistics(_ stages: [any Stage]) -> [Double] {
        stages.flatMap { stage in
            let state = stage.saveState()
            return state.statistics.keys.sorted().flatMap { state.statistics[$0] ?? [] }
        }
    }

    /// The largest |a − b| / max(1, |b|) over two equally long lists.
    static func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    @Test("summaries == stages one by one within 2e-5, over train and infer batches", arguments: [16, 37, 256])
    func closeToUnfused(rows: Int) throws {
        let summaryStages = Self.stages(), plainStages = Self.stages()
        let chain = Self.chain(summaryStages)
        var data = SampleData.mixedScale(seed: 7)
        var worstOutput = 0.0, worstStatistics = 0.0
        for index in 0..<14 {
            var batch = data.mixedScaleBatch(rows: rows, shift: Double(index) * 40 + (index >= 6 ? 5000 : 0))
            var plain = batch
            let mode: Mode = index < 11 ? .train : .infer
            try chain.process(&batch, mode: mode)
            for stage in plainStages { try stage.process(&plain, mode: mode) }
            worstOutput = max(worstOutput, Self.maxDifference(batch.values.map(Double.init), plain.values.map(Double.init)))
            worstStatistics = max(worstStatistics, Self.maxDifference(Self.statistics(summaryStages), Self.statistics(plainStages)))
            #expect(summaryStages.map { $0.saveState().counters } == plainStages.map { $0.saveState().counters })
        }
        #expect(worstOutput < 2e-5, "max output difference \(worstOutput)")
        #expect(worstStatistics < 2e-5, "max statistics difference \(worstStatistics)")
        #expect(worstOutput > 0 || worstStatistics > 0, "derived moments should differ from measured ones somewhere")
        // Every train batch ran from summaries (the mixed-scale rows are in no order: the first 16
        // rows' mean is always within 2σ), none of the infer batches.
        #expect(chain.summaryBatches == 11)
        #expect(chain.fusedPasses == 0)
    }

    /// The steps `trainFromSummaries` documents, spelled out on a second set of stages with the public
    /// pieces: measure the input's summary; per stage, train its affine from the summary in hand and
    /// map that summary through it; apply every stage's affine in one pass. A batch whose summary is
    /// not usable runs the stages one by one (the fused path's bits, `FusedChainBitsTests`).
    static func trainBySteps(_ batch: inout FeatureBatch, _ stages: [any AffineTrainingStage]) throws {
        var summary = ColumnSummary(), next = ColumnSummary(), shift: [Float] = []
        guard ColumnSummaryKernel.measure(batch, into: &summary, shift: &shift).usable else {
            for stage in stages { try stage.process(&batch, mode: .train) }
            return
        }
        var chain = AffineChain(features: batch.features, stages: stages.count)
        for (j, stage) in stages.enumerated() {
            let coefficients = stage.trainAffine(from: summary)
            summary.mapped(through: coefficients, into: &next)
            chain.set(stage: j, coefficients)
            summary = next
        }
        AffineChainKernel.apply(to: &batch, chain)
    }

    @Test("summaries: the chain == its documented steps spelled out, bit for bit, over train, fallback and infer batches")
    func summaryStepsBitForBit() throws {
        let chainStages = Self.stages(), stepStages = Self.stages()
        let chain = Self.chain(chainStages)
        let steps = stepStages.map { $0 as! any AffineTrainingStage }
        var data = SampleData.mixedScale(seed: 21)
        for index in 0..<16 {
            var batch = data.mixedScaleBatch(rows: 256, shift: Double(index) * 25)
            if index == 5 { for r in 0..<16 { batch[r, 0] -= 2000 } } // a shift far from the mean: the fused path
            var expected = batch
            let mode: Mode = index % 4 == 3 ? .infer : .train
            try chain.process(&batch, mode: mode)
            if mode == .train {
                try Self.trainBySteps(&expected, steps)
            } else {
                for stage in stepStages { try stage.process(&expected, mode: .infer) }
            }
            #expect(batch.values.map(\.bitPattern) == expected.values.map(\.bitPattern), "batch \(index)")
            #expect(Self.statistics(chainStages).map(\.bitPattern) == Self.statistics(stepStages).map(\.bitPattern), "batch \(index)")
            #expect(chainStages.map { $0.saveState().counters } == stepStages.map { $0.saveState().counters }, "batch \(index)")
        }
        #expect(chain.summaryBatches == 11) // 12 train batches, one of them on the fused path
    }

    @Test("min_max with clip, ghost batches, a partial column selection: the fused path, bit for bit")
    func fallsBackWhenNotAffine() throws {
        let cases: [(String, () -> [any Stage], [ColumnSelection])] = [
            ("clip", { Self.stages(clip: true) }, Array(repeating: .all(Self.features), count: 3)),
            ("ghost batches", { Self.stages(virtualBatchSize: 8) }, Array(repeating: .all(Self.features), count: 3)),
        ]
        for (label, make, columns) in cases {
            let summaryStages = make(), fusedStages = make()
            let chain = StageChain(
                links: zip(summaryStages, columns).map { ChainLink(stage: $0, columns: $1) }, featureCount: Self.features)
            let fused = StageChain(
                links: zip(fusedStages, columns).map { ChainLink(stage: $0, columns: $1) }, featureCount: Self.features, trainPasses: .fused)
            var data = SampleData.mixedScale(seed: 3)
            for _ in 0..<5 {
                var batch = data.mixedScaleBatch(rows: 32), other = batch
                try chain.process(&batch, mode: .train)
                try fused.process(&other, mode: .train)
                #expect(batch == other, "\(label)")
                #expect(Self.statistics(summaryStages).map(\.bitPattern) == Self.statistics(fusedStages).map(\.bitPattern), "\(label)")
            }
            #expect(chain.summaryBatches == 0, "\(label)")
        }
        // A stage on some columns: no summary path is even set up.
        let partial = StageChain(
            links: [
                ChainLink(stage: MinMaxStage(featureCount: 2), columns: ColumnSelection(indices: [0, 2], rowWidth: 4)),
                ChainLink(stage: Self.stages()[1], columns: .all(4)),
            ], featureCount: 4)
        var data = SampleData.mixedScale(seed: 5)
        var batch = data.mixedScaleBatch(rows: 32)
        try partial.process(&batch, mode: .train)
        #expect(partial.summaryBatches == 0)
    }

    @Test("a batch whose first 16 rows are far from its mean runs the fused path, bit for bit")
    func farShiftFallsBack() throws {
        let summaryStages = Self.stages(), fusedStages = Self.stages()
        let chain = Self.chain(summaryStages), fused = Self.chain(fusedStages, trainPasses: .fused)
        var data = SampleData.mixedScale(seed: 9)
        var batch = data.mixedScaleBatch(rows: 256)
        // Feature 0 of the first 16 rows 2000 below the others (1e4 ± 150): the shift is ~3.8σ from
        // the mean. (With 16 of n rows moved far, the distance tends to √(n − 16)/4 σ: beyond 2σ only
        // from n = 80 rows on.)
        for r in 0..<16 { batch[r, 0] -= 2000 }
        var other = batch
        try chain.process(&batch, mode: .train)
        try fused.process(&other, mode: .train)
        #expect(chain.summaryBatches == 0)
        #expect(batch == other)
        #expect(Self.statistics(summaryStages).map(\.bitPattern) == Self.statistics(fusedStages).map(\.bitPattern))
    }

    @Test("a stage whose output overflows: the same error as the fused path, statistics put back")
    func nonFiniteOutputRefused() throws {
        // batch_norm's γ = 2.5e38 on feature 0 (uniform values: |x − μ|/σ up to √3): its scale is
        // finite (~2.9e38) but its output overflows Float32 wherever |x − μ| > 1.36σ.
        let gamma = [2.5e38, 0.5, 1, 2]
        let summaryStages = Self.stages(gamma: gamma), fusedStages = Self.stages(gamma: gamma)
        let chain = Self.chain(summaryStages), fused = Self.chain(fusedStages, trainPasses: .fused)
        var data = SampleData.mixedScale(seed: 13)
        let batch = data.mixedScaleBatch(rows: 64)
        let before = summaryStages.map { $0.saveState() }
        var a = batch, b = batch
        let summaryError = #expect(throws: StageError.self) { try chain.process(&a, mode: .train) }
        let fusedError = #expect(throws: StageError.self) { try fused.process(&b, mode: .train) }
        #expect(summaryError == fusedError)
        guard case .inStage(index: 1, kind: "batch_norm", .nonFiniteOutput(kind: "batch_norm", _, column: 0, _)) = summaryError else {
            Issue.record("unexpected error \(String(describing: summaryError))")
            return
        }
        #expect(summaryStages.map { $0.saveState() } == before)
        #expect(chain.summaryBatches == 0)
    }

    @Test("keepOriginal: not called when the two passes train the batch; called with the original rows before the stages one by one change it")
    func keepOriginalOnlyBeforeAPathThatCanFailAfterWriting() throws {
        var data = SampleData.mixedScale(seed: 13)
        let batch = data.mixedScaleBatch(rows: 64)
        var kept: [FeatureBatch] = []
        // Two passes: everything is checked before the one write, so there is nothing to keep.
        var trained = batch
        try Self.chain(Self.stages()).process(&trained, mode: .train) { kept.append($0) }
        #expect(kept.isEmpty)
        #expect(trained != batch)
        // An overflowing batch_norm: the two passes refuse it untouched, the stages one by one run
        // (min_max writes) and fail at stage 1; the copy holds the rows from before min_max.
        var failing = batch
        let chain = Self.chain(Self.stages(gamma: [2.5e38, 0.5, 1, 2]))
        #expect(throws: StageError.self) { try chain.process(&failing, mode: .train) { kept.append($0) } }
        #expect(kept == [batch])
        #expect(failing != batch, "min_max wrote before batch_norm failed")
        // Infer never retries: nothing to keep.
        var inferred = batch
        try chain.process(&inferred, mode: .infer) { kept.append($0) }
        #expect(kept.count == 1)
    }

    @Test("infer batches: every stage's map in one pass == the stages one pass each, bit for bit", arguments: [false, true])
    func inferInOnePass(clip: Bool) throws {
        let onePassStages = Self.stages(clip: clip), plainStages = Self.stages(clip: clip)
        let chain = Self.chain(onePassStages)
        var data = SampleData.mixedScale(seed: 21)
        // Before any fit min_max's infer is the identity, not a map: the per-stage path.
        var first = data.mixedScaleBatch(rows: 37), firstPlain = first
        try chain.process(&first, mode: .infer)
        for stage in plainStages { try stage.process(&firstPlain, mode: .infer) }
        #expect(first == firstPlain)
        #expect(chain.onePassInferBatches == 0)
        // Train both sets of stages to the same bits (the fused path), then infer.
        let fused = Self.chain(onePassStages, trainPasses: .fused)
        for _ in 0..<4 {
            var batch = data.mixedScaleBatch(rows: 32), plain = batch
            try fused.process(&batch, mode: .train)
            for stage in plainStages { try stage.process(&plain, mode: .train) }
        }
        for rows in [1, 16, 37] {
            var batch = data.mixedScaleBatch(rows: rows), plain = batch
            try chain.process(&batch, mode: .infer)
            for stage in plainStages { try stage.process(&plain, mode: .infer) }
            #expect(batch.values.map(\.bitPattern) == plain.values.map(\.bitPattern), "\(rows) rows, clip \(clip)")
        }
        // With clip, min_max's infer is a map and a clamp: the per-stage path.
        #expect(chain.onePassInferBatches == (clip ? 0 : 3))
        #expect(Self.statistics(onePassStages).map(\.bitPattern) == Self.statistics(plainStages).map(\.bitPattern))
    }
}
