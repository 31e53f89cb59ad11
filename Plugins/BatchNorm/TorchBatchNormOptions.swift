public import StageKit

/// `torch.nn.BatchNorm1d`'s parameters with PyTorch's names and defaults: `momentum` 0.1 (the
/// weight of the *new* batch; `null` = cumulative average), `eps` 1e-5, `affine` true,
/// `track_running_stats` true, `gamma` (PyTorch's `weight`) 1 and `beta` (`bias`) 0.
public struct TorchBatchNormOptions: Sendable, Equatable {
    /// `nil`: cumulative moving average, weight `1/num_batches_tracked` (PyTorch's `momentum=None`).
    public var momentum: Double?
    public var eps: Double
    public var tracksRunningStats: Bool
    /// Whether `gamma`/`beta` were enabled (`affine`); recorded in state files.
    public var affine: Bool
    public var gamma: [Double]
    public var beta: [Double]

    public init(featureCount: Int, momentum: Double? = 0.1, eps: Double = 1e-5, tracksRunningStats: Bool = true,
                gamma: [Double]? = nil, beta: [Double]? = nil, affine: Bool = true) {
        self.affine = affine
        self.momentum = momentum
        self.eps = eps
        self.tracksRunningStats = tracksRunningStats
        self.gamma = gamma ?? [Double](repeating: 1, count: featureCount)
        self.beta = beta ?? [Double](repeating: 0, count: featureCount)
    }

    /// Reads PyTorch's keys, reporting every problem (Keras-only keys are left unread, so `finish()`
    /// reports them as unknown).
    public static func read(from reader: ParameterReader, context: StageBuildContext) -> TorchBatchNormOptions {
        let features = context.featureCount
        let momentum = readMomentum(reader)
        let eps = reader.double("eps", default: 1e-5)
        reader.require("eps", eps > 0, "must be > 0")
        let affine = reader.bool("affine", default: true)
        let tracks = reader.bool("track_running_stats", default: true)
        let gamma = KerasBatchNormOptions.readAffine("gamma", enabledBy: "affine", enabled: affine, default: 1, reader: reader, count: features)
        let beta = KerasBatchNormOptions.readAffine("beta", enabledBy: "affine", enabled: affine, default: 0, reader: reader, count: features)
        return TorchBatchNormOptions(featureCount: features, momentum: momentum, eps: eps > 0 ? eps : 1e-5,
                                     tracksRunningStats: tracks, gamma: gamma, beta: beta, affine: affine)
    }

    /// `momentum`: a number in [0, 1] (default 0.1) or an explicit `null` (cumulative average).
    /// Warns above 0.5, where it looks like Keras' convention (the fraction *kept*).
    static func readMomentum(_ reader: ParameterReader) -> Double? {
        if reader.isExplicitNull("momentum") { return nil }
        let momentum = reader.double("momentum", default: 0.1)
        guard reader.require("momentum", (0...1).contains(momentum), "must be in [0, 1]") else { return 0.1 }
        if momentum > 0.5 {
            let written = reader.value("momentum")?.quoted ?? String(momentum)
            reader.warning("momentum", "momentum \(written) replaces \(KerasBatchNormOptions.percent(momentum))% of the running statistics per batch; "
                + "PyTorch's momentum is the weight of the new batch (0.1 typical) — did you mean Keras' convention (convention: keras)?")
        }
        return momentum
    }

    /// `torch.nn.BatchNorm1d`'s constructor arguments as recorded in state files (`params`);
    /// `momentum` is `null` for the cumulative average, as in PyTorch.
    public var parameters: [String: StageParameter] {
        ["momentum": .optional(momentum), "eps": .number(eps), "affine": .flag(affine),
         "track_running_stats": .flag(tracksRunningStats), "gamma": .numbers(gamma), "beta": .numbers(beta)]
    }
}
