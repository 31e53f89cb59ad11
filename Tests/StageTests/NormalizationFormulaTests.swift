import BatchNorm
import MinMax
import NormCore
import NormTesting
import StageKit
import Testing

/// What the outputs of a train step must look like, independent of the reference files.
@Suite struct NormalizationFormulaTests {
    static let gamma: [Double] = [1.5, 2, 0.5, 3]
    static let beta: [Double] = [0.25, -1, 3, 0]

    @Test(arguments: [1e-3, 1e-5])
    func kerasTrainOutputHasMeanBetaAndShrunkStdGamma(epsilon: Double) throws {
        let chain = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("batch_norm")), ("epsilon", .number(epsilon)),
                    ("gamma", .numbers(Self.gamma)), ("beta", .numbers(Self.beta)),
                ], featureCount: 4))
        var data = SampleData.mixedScale(seed: 21)
        var batch = data.mixedScaleBatch(rows: 16)
        let input = ColumnMoments(of: batch)
        try chain.process(&batch, mode: .train)
        let output = columnSummary(batch)
        for f in 0..<4 {
            let variance = input.variance[f]
            let expectedStd = Self.gamma[f] * (variance / (variance + epsilon)).squareRoot()
            #expect(abs(output.mean[f] - Self.beta[f]) < 1e-4, "feature \(f) mean")
            #expect(abs(output.std[f] - expectedStd) < 1e-4 * max(1, expectedStd), "feature \(f) std")
        }
    }

    @Test(arguments: ["keras", "torch"])
    func aConstantColumnBecomesBeta(convention: String) throws {
        let chain = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("batch_norm")), ("convention", .text(convention)),
                    ("gamma", .numbers(Self.gamma)), ("beta", .numbers(Self.beta)),
                ], featureCount: 4))
        var data = SampleData.mixedScale(seed: 4)
        var batch = data.mixedScaleBatch(rows: 12)
        try chain.process(&batch, mode: .train)
        for row in 0..<12 { #expect(batch[row, 2] == Float(Self.beta[2])) } // column 2 is the constant 2.5
    }

    @Test(arguments: [[0.0, 1.0], [-1.0, 1.0], [2.0, 7.5]])
    func minMaxMapsAConstantColumnToLowAndTheDataOntoTheRange(range: [Double]) throws {
        let chain = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("min_max")), ("feature_range", .numbers(range)),
                ], featureCount: 4))
        var data = SampleData.mixedScale(seed: 8)
        var batch = data.mixedScaleBatch(rows: 10)
        try chain.process(&batch, mode: .train)
        for row in 0..<10 { #expect(batch[row, 2] == Float(range[0])) }
        for f in [0, 3] {
            let column = (0..<10).map { Double(batch[$0, f]) }
            #expect(abs((column.min() ?? .nan) - range[0]) < 1e-5)
            #expect(abs((column.max() ?? .nan) - range[1]) < 1e-5)
        }
    }

    @Test func minMaxPassesDataThroughBeforeItsFirstFit() throws {
        let chain = try #require(ChainFactory.chain([("type", .text("min_max")), ("clip", .flag(true))], featureCount: 4))
        var data = SampleData.mixedScale(seed: 2)
        let original = data.mixedScaleBatch(rows: 5)
        var batch = original
        try chain.process(&batch, mode: .infer)
        #expect(batch == original)
        let state = chain.saveState()[0]
        #expect(state.statistics.isEmpty && state.counters == ["n_samples_seen": 0])
    }

    @Test func torchWithoutRunningStatisticsNormalizesInferBatchesWithTheirOwnMoments() throws {
        let chain = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("batch_norm")), ("convention", .text("torch")), ("track_running_stats", .flag(false)),
                    ("beta", .numbers(Self.beta)),
                ], featureCount: 4))
        var data = SampleData.mixedScale(seed: 13)
        var batch = data.mixedScaleBatch(rows: 6, shift: 9000)
        try chain.process(&batch, mode: .infer)
        let output = columnSummary(batch)
        for f in 0..<4 { #expect(abs(output.mean[f] - Self.beta[f]) < 1e-4) }
        #expect(chain.saveState()[0].statistics.isEmpty && chain.saveState()[0].counters.isEmpty)
    }

    @Test func kerasGhostBatchesAreStridedAndNormalizedSeparately() throws {
        let chain = try #require(ChainFactory.chain([("type", .text("batch_norm")), ("virtual_batch_size", .integer(4))], featureCount: 4))
        var data = SampleData.mixedScale(seed: 17)
        var batch = data.mixedScaleBatch(rows: 12)
        try chain.process(&batch, mode: .train)
        // G = 3 ghost batches; ghost j = rows j, j+3, j+6, j+9 must each have mean 0 (beta).
        for j in 0..<3 {
            let rows = stride(from: j, to: 12, by: 3)
            for f in [0, 1, 3] {
                let mean = rows.map { Double(batch[$0, f]) }.reduce(0, +) / 4
                #expect(abs(mean) < 1e-4, "ghost \(j) feature \(f)")
            }
        }
    }
}
