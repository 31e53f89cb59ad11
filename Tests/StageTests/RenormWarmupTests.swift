import BatchNorm
import BatchRenorm
import NormCore
import NormTesting
import StageKit
import Testing

/// `renorm_warmup`: plain batch norm before `start`, the configured clipping from `end`, linear between.
@Suite struct RenormWarmupTests {
    static let clipping = RenormClipping(rmax: 3, rmin: 0.25, dmax: 5)

    private func renorm(warmup: RenormWarmup?) -> BatchRenormStage {
        BatchRenormStage(
            featureCount: 4, options: KerasBatchNormOptions(featureCount: 4, momentum: 0.9, gamma: [1, 2, 1, 0.5], beta: [0, 1, 2, 3]),
            renormMomentum: 0.8, clipping: Self.clipping, warmup: warmup)
    }

    @Test func beforeStartTheOutputIsPlainBatchNorm() throws {
        let warm = renorm(warmup: RenormWarmup(start: 3, end: 6))
        let unwarmed = renorm(warmup: nil)
        let plain = KerasBatchNormStage(featureCount: 4, options: warm.options)
        var data = SampleData.mixedScale(seed: 31)
        for (index, input) in data.mixedScaleBatches(3, rows: 16).enumerated() {
            var a = input, b = input, c = input
            try warm.process(&a, mode: .train)
            try plain.process(&b, mode: .train)
            try unwarmed.process(&c, mode: .train)
            #expect(a == b, "batch \(index): r = 1, d = 0")
            #expect(a != c, "batch \(index): without the warm-up renorm differs from batch norm")
        }
        #expect(warm.currentClipping == RenormClipping(rmax: 1, rmin: 1, dmax: 0))
        #expect(warm.saveState().counters["train_batches"] == 3)
    }

    @Test func fromEndOnTheConfiguredClippingApplies() throws {
        let warm = renorm(warmup: RenormWarmup(start: 1, end: 3))
        var data = SampleData.mixedScale(seed: 37)
        let batches = data.mixedScaleBatches(6, rows: 16)
        for var batch in batches.prefix(3) { try warm.process(&batch, mode: .train) }
        #expect(warm.currentClipping == Self.clipping)
        let configured = renorm(warmup: nil)
        try configured.restoreState(warm.saveState())
        for (index, input) in batches.dropFirst(3).enumerated() {
            var a = input, b = input
            try warm.process(&a, mode: .train)
            try configured.process(&b, mode: .train)
            #expect(a == b, "batch \(index + 3)")
        }
        #expect(warm.saveState().statistics == configured.saveState().statistics)
    }

    @Test func betweenStartAndEndTheBoundsMoveLinearly() {
        let warmup = RenormWarmup(start: 2, end: 6)
        #expect(warmup.clipping(atTrainBatch: 0, target: Self.clipping) == .plainBatchNorm)
        #expect(warmup.clipping(atTrainBatch: 2, target: Self.clipping) == .plainBatchNorm)
        #expect(warmup.clipping(atTrainBatch: 4, target: Self.clipping) == RenormClipping(rmax: 2, rmin: 0.625, dmax: 2.5))
        #expect(warmup.clipping(atTrainBatch: 5, target: Self.clipping) == RenormClipping(rmax: 2.5, rmin: 0.4375, dmax: 3.75))
        #expect(warmup.clipping(atTrainBatch: 6, target: Self.clipping) == Self.clipping)
        #expect(warmup.clipping(atTrainBatch: 600, target: Self.clipping) == Self.clipping)
    }

    @Test func aMissingBoundStaysAtItsBatchNormValueUntilTheEnd() {
        let warmup = RenormWarmup(start: 0, end: 4)
        let target = RenormClipping(rmax: 3)
        #expect(warmup.clipping(atTrainBatch: 2, target: target) == RenormClipping(rmax: 2, rmin: 1, dmax: 0))
        #expect(warmup.clipping(atTrainBatch: 4, target: target) == target)
    }

    @Test func startEqualToEndSwitchesAtOnce() {
        let warmup = RenormWarmup(start: 5, end: 5)
        #expect(warmup.clipping(atTrainBatch: 4, target: Self.clipping) == .plainBatchNorm)
        #expect(warmup.clipping(atTrainBatch: 5, target: Self.clipping) == Self.clipping)
    }

    @Test func theWarmupIsBuiltFromConfiguration() throws {
        let chain = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("batch_renorm")),
                    ("renorm_clipping", JSONConfig.map([("rmax", .number(3)), ("rmin", .number(0.25)), ("dmax", .number(5))])),
                    ("renorm_warmup", JSONConfig.map([("start", .integer(2)), ("end", .integer(10))])),
                ], featureCount: 4))
        let stage = try #require(chain.stages[0] as? BatchRenormStage)
        #expect(stage.warmup == RenormWarmup(start: 2, end: 10))
        #expect(stage.clipping == Self.clipping)
    }
}
