import BatchNorm
import BatchRenorm
import MinMax
import StageKit

/// The `min_max → batch_norm → batch_renorm` train chain the chain suites run (`FusedChainBitsTests`,
/// `SummaryChainTests`), with their shared parameters.
enum ChainStages {
    static func minMaxBatchNormRenorm(
        features: Int, clip: Bool, gamma: [Double] = [1.5, 0.5, 1, 2], virtualBatchSize: Int? = nil
    ) -> [any Stage] {
        let options = KerasBatchNormOptions(
            featureCount: features, momentum: 0.9, epsilon: 1e-3, gamma: gamma, beta: [0.25, -1, 0, 3], virtualBatchSize: virtualBatchSize)
        return [
            MinMaxStage(featureCount: features, range: MinMaxRange(low: -1, high: 2), clip: clip),
            KerasBatchNormStage(featureCount: features, options: options),
            BatchRenormStage(
                featureCount: features, options: options, renormMomentum: 0.8,
                clipping: RenormClipping(rmax: 1.5, rmin: 0.5, dmax: 0.5), warmup: nil),
        ]
    }
}
