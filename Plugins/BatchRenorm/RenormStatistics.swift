internal import StageKit

/// The four running averages of tf_keras batch renorm plus the derived `moving_variance`.
///
/// Two separate pairs: `renorm_mean`/`renorm_stddev` (updated with `renorm_momentum`) are what r and d
/// measure the batch against during training; `moving_mean`/`moving_stddev` (updated with `momentum`)
/// feed inference through `moving_variance = max(moving_stddev² − ε, 0)`, which inference's plain
/// batch norm adds ε back to. Initial values are tf_keras': means 0, standard deviations and the
/// moving variance 1.
struct RenormStatistics: Equatable {
    var movingMean: [Double]
    var movingVariance: [Double]
    var movingStddev: [Double]
    var renormMean: [Double]
    var renormStddev: [Double]

    init(featureCount: Int) {
        let zeros = [Double](repeating: 0, count: featureCount)
        let ones = [Double](repeating: 1, count: featureCount)
        self.init(movingMean: zeros, movingVariance: ones, movingStddev: ones, renormMean: zeros, renormStddev: ones)
    }

    init(movingMean: [Double], movingVariance: [Double], movingStddev: [Double], renormMean: [Double], renormStddev: [Double]) {
        self.movingMean = movingMean
        self.movingVariance = movingVariance
        self.movingStddev = movingStddev
        self.renormMean = renormMean
        self.renormStddev = renormStddev
    }

    /// Copies `other`'s values into this one's storage (no allocation when the widths match).
    mutating func overwrite(with other: RenormStatistics) {
        movingMean.overwrite(with: other.movingMean)
        movingVariance.overwrite(with: other.movingVariance)
        movingStddev.overwrite(with: other.movingStddev)
        renormMean.overwrite(with: other.renormMean)
        renormStddev.overwrite(with: other.renormStddev)
    }

    var allFinite: Bool {
        movingMean.allFinite && movingVariance.allFinite && movingStddev.allFinite && renormMean.allFinite && renormStddev.allFinite
    }

    /// State vector names, as tf_keras names its variables.
    static let names = ["moving_mean", "moving_variance", "moving_stddev", "renorm_mean", "renorm_stddev"]

    var byName: [String: [Double]] {
        [
            "moving_mean": movingMean, "moving_variance": movingVariance, "moving_stddev": movingStddev,
            "renorm_mean": renormMean, "renorm_stddev": renormStddev,
        ]
    }
}
