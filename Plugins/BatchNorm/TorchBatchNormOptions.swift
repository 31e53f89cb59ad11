public import StageKit

/// `torch.nn.BatchNorm1d`'s arguments a sidecar applies, declared once (`convention: torch`).
public enum TorchParameters {
    static let conventions = ["torch"]

    public static let momentum = ParameterSpec(
        "momentum", .number, default: .number(0.1), rule: .unitInterval, conventions: conventions,
        doc: "weight of the new batch; null = cumulative average")
    public static let eps = ParameterSpec(
        "eps", .number, default: .number(1e-5), rule: .positive, conventions: conventions,
        doc: "added to the variance inside the square root")
    public static let affine = ParameterSpec(
        "affine", .flag, default: .flag(true), conventions: conventions, doc: "apply gamma (torch weight) and beta (torch bias)")
    public static let trackRunningStats = ParameterSpec(
        "track_running_stats", .flag, default: .flag(true), conventions: conventions,
        doc: "false: batch statistics also in infer mode")
    public static let gamma = ParameterSpec(
        "gamma", .perFeature, default: .number(1), conventions: conventions,
        doc: "torch weight, a number or one per selected feature")
    public static let beta = ParameterSpec(
        "beta", .perFeature, default: .number(0), conventions: conventions,
        doc: "torch bias, a number or one per selected feature")

    /// Where the running statistics start (PyTorch's `reset_running_stats` gives 0 / 1); a restored
    /// checkpoint overrides them.
    public static let runningMeanInit = ParameterSpec(
        "running_mean_init", .perFeature, default: .number(0), conventions: conventions,
        doc: "initial running_mean, a number or one per selected feature; a restored checkpoint overrides it")
    public static let runningVarInit = ParameterSpec(
        "running_var_init", .perFeature, default: .number(1), rule: .nonNegative, conventions: conventions,
        doc: "initial running_var, a number or one per selected feature; a restored checkpoint overrides it")

    /// In reading order (the order of the "expected one of" list).
    public static let all = [momentum, eps, affine, trackRunningStats, gamma, beta, runningMeanInit, runningVarInit]
}

/// `torch.nn.BatchNorm1d`'s parameters with PyTorch's names and defaults (`TorchParameters`):
/// `momentum` is the weight of the *new* batch (`null` = cumulative average), `gamma` is PyTorch's
/// `weight` and `beta` its `bias`.
public struct TorchBatchNormOptions: Sendable, Equatable {
    /// `nil`: cumulative moving average, weight `1/num_batches_tracked` (PyTorch's `momentum=None`).
    public var momentum: Double?
    public var eps: Double
    public var tracksRunningStats: Bool
    /// Whether `gamma`/`beta` were enabled (`affine`); recorded in state files.
    public var affine: Bool
    public var gamma: [Double]
    public var beta: [Double]
    /// `running_mean_init` / `running_var_init` when configured; `nil`: PyTorch's zeros / ones.
    public var initialMean: [Double]?
    public var initialVariance: [Double]?

    public init(
        featureCount: Int, momentum: Double? = TorchParameters.momentum.defaultNumber,
        eps: Double = TorchParameters.eps.defaultNumber,
        tracksRunningStats: Bool = TorchParameters.trackRunningStats.defaultFlag,
        gamma: [Double]? = nil, beta: [Double]? = nil, affine: Bool = TorchParameters.affine.defaultFlag
    ) {
        self.affine = affine
        self.momentum = momentum
        self.eps = eps
        self.tracksRunningStats = tracksRunningStats
        self.gamma = gamma ?? [Double](repeating: TorchParameters.gamma.defaultNumber, count: featureCount)
        self.beta = beta ?? [Double](repeating: TorchParameters.beta.defaultNumber, count: featureCount)
    }

    /// Reads PyTorch's keys, reporting every problem (Keras-only keys are left unread, so `finish()`
    /// reports them as unknown).
    public static func read(from reader: ParameterReader, context: StageBuildContext) -> TorchBatchNormOptions {
        let features = context.featureCount
        let momentum = readMomentum(reader)
        let eps = reader.number(TorchParameters.eps)
        let affine = reader.flag(TorchParameters.affine)
        let tracks = reader.flag(TorchParameters.trackRunningStats)
        let gamma = KerasBatchNormOptions.readAffine(TorchParameters.gamma, enabledBy: "affine", enabled: affine, reader: reader, count: features)
        let beta = KerasBatchNormOptions.readAffine(TorchParameters.beta, enabledBy: "affine", enabled: affine, reader: reader, count: features)
        var options = TorchBatchNormOptions(
            featureCount: features, momentum: momentum, eps: eps,
            tracksRunningStats: tracks, gamma: gamma, beta: beta, affine: affine)
        options.initialMean = readInitial(TorchParameters.runningMeanInit, from: reader, count: features, tracks: tracks)
        options.initialVariance = readInitial(TorchParameters.runningVarInit, from: reader, count: features, tracks: tracks)
        return options
    }

    /// Without running statistics there is nothing to initialize: refused rather than ignored.
    static func readInitial(_ spec: ParameterSpec, from reader: ParameterReader, count: Int, tracks: Bool) -> [Double]? {
        if !tracks {
            if let node = reader.value(spec.key), !node.isNull {
                reader.error(
                    spec.key,
                    "is given but track_running_stats is false (no running statistics); "
                        + "remove it or set track_running_stats: true")
            }
            return nil
        }
        return KerasBatchNormOptions.readInitial(spec, from: reader, count: count)
    }

    /// `momentum`: a number in [0, 1] or an explicit `null` (cumulative average).
    /// Warns above 0.5, where it looks like Keras' convention (the fraction *kept*).
    static func readMomentum(_ reader: ParameterReader) -> Double? {
        if reader.isExplicitNull("momentum") { return nil }
        let momentum = reader.number(TorchParameters.momentum)
        if momentum > 0.5 {
            let written = reader.value("momentum")?.quoted ?? String(momentum)
            reader.warning(
                "momentum",
                "momentum \(written) replaces \(KerasBatchNormOptions.percent(momentum))% of the running statistics per batch; "
                    + "PyTorch's momentum is the weight of the new batch (0.1 typical) — did you mean Keras' convention (convention: keras)?")
        }
        return momentum
    }

    /// `torch.nn.BatchNorm1d`'s constructor arguments as recorded in state files (`params`);
    /// `momentum` is `null` for the cumulative average, as in PyTorch.
    public var parameters: [String: StageParameter] {
        typealias T = TorchParameters
        return [
            T.momentum.key: .optional(momentum), T.eps.key: .number(eps), T.affine.key: .flag(affine),
            T.trackRunningStats.key: .flag(tracksRunningStats), T.gamma.key: .numbers(gamma), T.beta.key: .numbers(beta),
        ]
        .merging(KerasBatchNormOptions.recorded([T.runningMeanInit.key: initialMean, T.runningVarInit.key: initialVariance])) { a, _ in a }
    }
}
