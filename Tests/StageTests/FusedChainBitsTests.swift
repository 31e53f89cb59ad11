import BatchNorm
import BatchRenorm
import MinMax
import NormCore
import NormTesting
import StageKit
import Testing

/// The fused stage chain (`AffineMomentsKernel`, `MomentsFusingStage`) computes exactly the bits of
/// the stages run one after the other without fusion: every output value and every statistic, over
/// batches where the running-mean shift is kept and where it is stale (a jump of 5000 forces the
/// unfused fallback), with and without min_max's clip, and with a row count that is not a multiple
/// of the 16-row blocks.
@Suite struct FusedChainBitsTests {
    static let features = 4

    static func stages(clip: Bool) -> [any Stage] {
        ChainStages.minMaxBatchNormRenorm(features: features, clip: clip)
    }

    /// Output and statistics bits after each batch, in order.
    static func bits(_ batch: FeatureBatch, _ stages: [any Stage]) -> [UInt64] {
        var bits = batch.withUnsafeValues { $0.map { UInt64($0.bitPattern) } }
        for stage in stages {
            let state = stage.saveState()
            for name in state.statistics.keys.sorted() { bits += (state.statistics[name] ?? []).map(\.bitPattern) }
        }
        return bits
    }

    @Test("fused chain == stages one by one, bit for bit", arguments: [(false, 16), (true, 16), (false, 37), (true, 256)])
    func fusedEqualsUnfused(clip: Bool, rows: Int) throws {
        let fusedStages = Self.stages(clip: clip), plainStages = Self.stages(clip: clip)
        let all = ColumnSelection.all(Self.features)
        // `.fused`: this suite is about the fused path; the default trains such chains from summaries
        // instead (`SummaryChainTests`), which is not bit-identical.
        let chain = StageChain(
            links: fusedStages.map { ChainLink(stage: $0, columns: all) }, featureCount: Self.features, trainPasses: .fused)
        var data = SampleData.mixedScale(seed: 7)
        for index in 0..<14 {
            let shift = Double(index) * 40 + (index >= 6 ? 5000 : 0)
            var fused = data.mixedScaleBatch(rows: rows, shift: shift)
            var plain = fused
            let mode: Mode = index < 11 ? .train : .infer
            try chain.process(&fused, mode: mode)
            for stage in plainStages { try stage.process(&plain, mode: mode) }
            #expect(Self.bits(fused, fusedStages) == Self.bits(plain, plainStages), "batch \(index), clip \(clip), \(rows) rows")
        }
        // Not vacuous: of the 22 links that could fuse (11 train batches × min_max → batch_norm and
        // batch_norm → batch_renorm), 10 handed their moments on; the others (the first batches, while
        // the running means converge, and those after the jump) fell back to the unfused moments.
        #expect(chain.fusedPasses == 10)
    }

    @Test("the fused kernel alone: AffineTransform.apply then the hinted moments pass, bit for bit")
    func kernelEqualsTwoPasses() {
        var data = SampleData.mixedScale(seed: 11)
        let batch = data.mixedScaleBatch(rows: 50)
        var affine = CenteredAffine(featureCount: Self.features)
        for f in 0..<Self.features { affine.set(f, center: Double(f) * 3 + 1e4, scale: 0.01 * Double(f + 1), offset: 0.5) }
        var fused = batch, plain = batch
        AffineTransform.apply(to: &plain, affine)
        let shift = (0..<Self.features).map { f in plain.withUnsafeValues { Float($0[f]) } }
        let result = AffineMomentsKernel.apply(to: &fused, affine, momentsAbout: shift)
        let expected = ColumnMoments(of: plain, nearMean: shift)
        #expect(fused == plain)
        #expect(result.outputFinite)
        #expect(result.moments?.mean.map(\.bitPattern) == expected.mean.map(\.bitPattern))
        #expect(result.moments?.variance.map(\.bitPattern) == expected.variance.map(\.bitPattern))
    }

    @Test("a non-finite output gives no moments and does not claim the output finite")
    func nonFiniteOutput() {
        var batch = FeatureBatch(rows: 3, features: 2, values: [1, 2, 3e30, 4, 5, 6])
        var affine = CenteredAffine(featureCount: 2)
        affine.set(0, center: 0, scale: 1e20, offset: 0) // 3e30 · 1e20 = +∞ in Float32
        affine.set(1, center: 0, scale: 1, offset: 0)
        let result = AffineMomentsKernel.apply(to: &batch, affine, momentsAbout: [0, 0])
        #expect(result.moments == nil)
        #expect(result.outputFinite == false)
        #expect(batch[1, 0] == .infinity)
    }

    @Test("a shift further than 2σ from the output's mean: finite output, moments left to the next stage")
    func staleShift() {
        var batch = FeatureBatch(rows: 4, features: 1, values: [1, 2, 3, 4])
        let result = AffineMomentsKernel.apply(to: &batch, CenteredAffine(featureCount: 1), momentsAbout: [100])
        #expect(result.moments == nil)
        #expect(result.outputFinite)
        #expect(batch.values == [1, 2, 3, 4])
    }
}
