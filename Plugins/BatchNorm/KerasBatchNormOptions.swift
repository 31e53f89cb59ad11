public import StageKit

/// tf_keras' `BatchNormalization` arguments a sidecar applies, declared once: key, type, default,
/// rule and doc. Shared by `batch_norm` (keras convention) and `batch_renorm`.
public enum KerasParameters {
    public static let conventions = ["keras", "tf_keras"]

    public static let momentum = ParameterSpec(
        "momentum", .number, default: .number(0.99), rule: .unitInterval, conventions: conventions,
        doc: "fraction of the moving statistics kept per batch")
    public static let epsilon = ParameterSpec(
        "epsilon", .number, default: .number(1e-3), rule: .positive, conventions: conventions,
        doc: "added to the variance inside the square root")
    public static let center = ParameterSpec(
        "center", .flag, default: .flag(true), conventions: conventions, doc: "apply beta")
    public static let scale = ParameterSpec(
        "scale", .flag, default: .flag(true), conventions: conventions, doc: "apply gamma")
    public static let gamma = ParameterSpec(
        "gamma", .perFeature, default: .number(1), conventions: conventions,
        doc: "scale after normalizing, a number or one per selected feature")
    public static let beta = ParameterSpec(
        "beta", .perFeature, default: .number(0), conventions: conventions,
        doc: "shift after normalizing, a number or one per selected feature")
    public static let virtualBatchSize = ParameterSpec(
        "virtual_batch_size", .integer, rule: .positive, conventions: conventions,
        doc: "ghost batches (strided, as tf_keras); must divide batch.size")

    /// tf_keras' `moving_mean_initializer` / `moving_variance_initializer` as constants: where the
    /// moving statistics start, so a user can warm-start from statistics they already know. A
    /// restored checkpoint overrides them. `batch_norm` only (batch renorm's four averages start
    /// together at tf_keras' 0 / 1).
    public static let movingMeanInitializer = ParameterSpec(
        "moving_mean_initializer", .perFeature, default: .number(0), conventions: conventions,
        doc: "initial moving_mean, a number or one per selected feature; a restored checkpoint overrides it")
    public static let movingVarianceInitializer = ParameterSpec(
        "moving_variance_initializer", .perFeature, default: .number(1), rule: .nonNegative, conventions: conventions,
        doc: "initial moving_variance, a number or one per selected feature; a restored checkpoint overrides it")

    /// In reading order (the order of the "expected one of" list); the keys batch_norm and
    /// batch_renorm share.
    public static let all = [momentum, epsilon, center, scale, gamma, beta, virtualBatchSize]
}

/// The parameters tf_keras' `BatchNormalization` and batch renorm share, read with tf_keras' names
/// and defaults (`KerasParameters`): `momentum` is the fraction of the moving statistics *kept*,
/// `epsilon` is added to the variance inside the square root, `gamma`/`beta` are a scalar or one
/// value per feature.
public struct KerasBatchNormOptions: Sendable, Equatable {
    public var momentum: Double
    public var epsilon: Double
    /// All ones when `scale: false` (tf_keras then has no gamma variable).
    public var gamma: [Double]
    /// All zeros when `center: false` (tf_keras then has no beta variable).
    public var beta: [Double]
    public var virtualBatchSize: Int?
    /// Whether `beta` / `gamma` were enabled (`center` / `scale`); recorded in state files. When
    /// off, `beta` is all 0 / `gamma` all 1, so the arithmetic does not need them.
    public var center: Bool
    public var scale: Bool
    /// `moving_mean_initializer` / `moving_variance_initializer` when configured (one value per
    /// feature); `nil`: tf_keras' zeros / ones.
    public var initialMean: [Double]?
    public var initialVariance: [Double]?

    public init(
        featureCount: Int, momentum: Double = KerasParameters.momentum.defaultNumber,
        epsilon: Double = KerasParameters.epsilon.defaultNumber,
        gamma: [Double]? = nil, beta: [Double]? = nil, virtualBatchSize: Int? = nil,
        center: Bool = KerasParameters.center.defaultFlag, scale: Bool = KerasParameters.scale.defaultFlag
    ) {
        self.center = center
        self.scale = scale
        self.momentum = momentum
        self.epsilon = epsilon
        self.gamma = gamma ?? [Double](repeating: KerasParameters.gamma.defaultNumber, count: featureCount)
        self.beta = beta ?? [Double](repeating: KerasParameters.beta.defaultNumber, count: featureCount)
        self.virtualBatchSize = virtualBatchSize
    }

    /// Reads the shared keys, reporting every problem; returns defaults where a value was bad, so the
    /// caller decides from the diagnostics' error count whether to build.
    /// - Parameter momentumHint: ends the warning for a momentum that looks like PyTorch's convention.
    public static func read(from reader: ParameterReader, context: StageBuildContext, momentumHint: String) -> KerasBatchNormOptions {
        let features = context.featureCount
        let momentum = readMomentum(KerasParameters.momentum, from: reader, statistics: "moving statistics", hint: momentumHint)
        let epsilon = reader.number(KerasParameters.epsilon)
        let center = reader.flag(KerasParameters.center)
        let scale = reader.flag(KerasParameters.scale)
        let gamma = readAffine(KerasParameters.gamma, enabledBy: "scale", enabled: scale, reader: reader, count: features)
        let beta = readAffine(KerasParameters.beta, enabledBy: "center", enabled: center, reader: reader, count: features)
        let virtualBatchSize = readVirtualBatchSize(reader, batchSize: context.batchSize)
        return KerasBatchNormOptions(
            featureCount: features, momentum: momentum, epsilon: epsilon,
            gamma: gamma, beta: beta, virtualBatchSize: virtualBatchSize, center: center, scale: scale)
    }

    /// A Keras-style momentum in [0, 1], warning when it is so low that it looks like PyTorch's
    /// inverted convention (the weight of the *new* batch).
    public static func readMomentum(_ spec: ParameterSpec, from reader: ParameterReader, statistics: String, hint: String) -> Double {
        let key = spec.key
        let momentum = reader.number(spec)
        if momentum < 0.5 {
            let written = reader.value(key)?.quoted ?? String(momentum)
            reader.warning(
                key,
                "\(key) \(written) keeps only \(percent(momentum))% of the \(statistics) per batch; "
                    + "Keras' \(key) is the fraction kept (0.99 typical) — \(hint)")
        }
        return momentum
    }

    /// An initial statistic (`moving_mean_initializer`, `running_var_init` …): a number or one per
    /// feature, each within the spec's rule; `nil` when absent or invalid (after reporting it).
    public static func readInitial(_ spec: ParameterSpec, from reader: ParameterReader, count: Int) -> [Double]? {
        guard let node = reader.value(spec.key), !node.isNull else { return nil }
        let mark = reader.diagnostics.mark()
        let values = reader.perFeature(spec.key, count: count, default: spec.defaultNumber)
        guard mark.noNewErrors,
            reader.require(spec.key, values.allSatisfy(spec.rule.admits), spec.rule.message)
        else { return nil }
        return values
    }

    /// `0.1` → `"10"`, `0.125` → `"12.5"`.
    static func percent(_ fraction: Double) -> String {
        let tenths = (fraction * 1000).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(tenths / 10)
    }

    /// gamma/beta: only meaningful when the switch that creates them (`scale`/`center`) is on.
    static func readAffine(
        _ spec: ParameterSpec, enabledBy switchKey: String, enabled: Bool,
        reader: ParameterReader, count: Int
    ) -> [Double] {
        let key = spec.key, value = spec.defaultNumber
        if !enabled {
            if let node = reader.value(key), !node.isNull {
                reader.error(key, "is given but \(switchKey) is false (no \(key) is applied); remove it or set \(switchKey): true")
            }
            return [Double](repeating: value, count: count)
        }
        return reader.perFeature(key, count: count, default: value)
    }

    /// `virtual_batch_size`: a positive integer that divides the pipeline's `batch.size`.
    static func readVirtualBatchSize(_ reader: ParameterReader, batchSize: Int) -> Int? {
        let key = KerasParameters.virtualBatchSize.key
        guard let size = reader.optionalInt(key) else { return nil }
        guard
            reader.require(
                key, KerasParameters.virtualBatchSize.rule.admits(Double(size)),
                KerasParameters.virtualBatchSize.rule.message)
        else { return nil }
        if batchSize > 0 && batchSize % size != 0 {
            reader.error(key, "batch.size (\(batchSize)) must be a multiple of virtual_batch_size (\(size))")
        }
        return size
    }

    /// tf_keras' constructor arguments as recorded in state files (`params`).
    public var parameters: [String: StageParameter] {
        typealias K = KerasParameters
        return [
            K.momentum.key: .number(momentum), K.epsilon.key: .number(epsilon), K.center.key: .flag(center),
            K.scale.key: .flag(scale), K.gamma.key: .numbers(gamma), K.beta.key: .numbers(beta),
            K.virtualBatchSize.key: .optional(virtualBatchSize.map(Double.init)),
        ]
        .merging(Self.recorded([K.movingMeanInitializer.key: initialMean, K.movingVarianceInitializer.key: initialVariance])) { a, _ in a }
    }

    /// Initial statistics are recorded only when configured, so a state file of a stage without
    /// them reads as before they existed.
    static func recorded(_ initial: [String: [Double]?]) -> [String: StageParameter] {
        initial.compactMapValues { $0.map(StageParameter.numbers) }
    }
}
