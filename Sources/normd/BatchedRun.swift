import NormCore
import StageKit

/// A whole input run through a chain in consecutive batches, as a stream of that batch size would be.
struct BatchedRun {
    var output: FeatureBatch
    var batches: Int
    /// Train batches that ran in infer mode (too few rows, or not a multiple of a ghost batch size).
    var downgraded: Int

    /// Splits `input` into batches of `batchSize` rows (the last may be shorter) and runs each.
    static func process(_ input: FeatureBatch, through chain: StageChain, mode: Mode, batchSize: Int) throws(StageError) -> BatchedRun {
        var output = FeatureBatch(rows: 0, features: input.features)
        var batches = 0
        let downgradedBefore = chain.downgradedBatches
        var start = 0
        while start < input.rows {
            let rows = min(batchSize, input.rows - start)
            var batch = FeatureBatch(
                rows: rows, features: input.features,
                values: Array(input.values[(start * input.features)..<((start + rows) * input.features)]))
            try chain.process(&batch, mode: mode)
            batch.withUnsafeValues { output.append(contentsOf: $0) }
            batches += 1
            start += rows
        }
        return BatchedRun(output: output, batches: batches, downgraded: chain.downgradedBatches - downgradedBefore)
    }
}
