public import StageKit

/// The parameters tf_keras' `BatchNormalization` and batch renorm share, read with tf_keras' names
/// and defaults: `momentum` 0.99 (fraction of the moving statistics *kept*), `epsilon` 1e-3 (added
/// to the variance inside the square root), `center`/`scale` true, `gamma` 1 / `beta` 0 (a scalar or
/// one value per feature), `virtual_batch_size` none.
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

    public init(featureCount: Int, momentum: Double = 0.99, epsilon: Double = 1e-3,
                gamma: [Double]? = nil, beta: [Double]? = nil, virtualBatchSize: Int? = nil,
                center: Bool = true, scale: Bool = true) {
        self.center = center
        self.scale = scale
        self.momentum = momentum
        self.epsilon = epsilon
        self.gamma = gamma ?? [Double](repeating: 1, count: featureCount)
        self.beta = beta ?? [Double](repeating: 0, count: featureCount)
        self.virtualBatchSize = virtualBatchSize
    }

    /// Reads the shared keys, reporting every problem; returns defaults where a value was bad, so the
    /// caller decides from the diagnostics' error count whether to build.
    /// - Parameter momentumHint: ends the warning for a momentum that looks like PyTorch's convention.
    public static func read(from reader: ParameterReader, context: StageBuildContext, momentumHint: String) -> KerasBatchNormOptions {
        let features = context.featureCount
        let momentum = readMomentum("momentum", from: reader, statistics: "moving statistics", hint: momentumHint)
        let epsilon = reader.double("epsilon", default: 1e-3)
        reader.require("epsilon", epsilon > 0, "must be > 0")
        let center = reader.bool("center", default: true)
        let scale = reader.bool("scale", default: true)
        let gamma = readAffine("gamma", enabledBy: "scale", enabled: scale, default: 1, reader: reader, count: features)
        let beta = readAffine("beta", enabledBy: "center", enabled: center, default: 0, reader: reader, count: features)
        let virtualBatchSize = readVirtualBatchSize(reader, batchSize: context.batchSize)
        return KerasBatchNormOptions(featureCount: features, momentum: momentum, epsilon: epsilon > 0 ? epsilon : 1e-3,
                                     gamma: gamma, beta: beta, virtualBatchSize: virtualBatchSize, center: center, scale: scale)
    }

    /// A Keras-style momentum in [0, 1] (default 0.99), warning when it is so low that it looks like
    /// PyTorch's inverted convention (the weight of the *new* batch).
    public static func readMomentum(_ key: String, from reader: ParameterReader, statistics: String, hint: String) -> Double {
        let momentum = reader.double(key, default: 0.99)
        guard reader.require(key, (0...1).contains(momentum), "must be in [0, 1]") else { return 0.99 }
        if momentum < 0.5 {
            let written = reader.value(key)?.quoted ?? String(momentum)
            reader.warning(key, "\(key) \(written) keeps only \(percent(momentum))% of the \(statistics) per batch; "
                + "Keras' \(key) is the fraction kept (0.99 typical) — \(hint)")
        }
        return momentum
    }

    /// `0.1` → `"10"`, `0.125` → `"12.5"`.
    static func percent(_ fraction: Double) -> String {
        let tenths = (fraction * 1000).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(tenths / 10)
    }

    /// gamma/beta: only meaningful when the switch that creates them (`scale`/`center`) is on.
    static func readAffine(_ key: String, enabledBy switchKey: String, enabled: Bool, default value: Double,
                           reader: ParameterReader, count: Int) -> [Double] {
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
        guard let size = reader.optionalInt("virtual_batch_size") else { return nil }
        guard reader.require("virtual_batch_size", size > 0, "must be > 0") else { return nil }
        if batchSize > 0 && batchSize % size != 0 {
            reader.error("virtual_batch_size", "batch.size (\(batchSize)) must be a multiple of virtual_batch_size (\(size))")
        }
        return size
    }

    /// tf_keras' constructor arguments as recorded in state files (`params`).
    public var parameters: [String: StageParameter] {
        ["momentum": .number(momentum), "epsilon": .number(epsilon), "center": .flag(center), "scale": .flag(scale),
         "gamma": .numbers(gamma), "beta": .numbers(beta),
         "virtual_batch_size": .optional(virtualBatchSize.map(Double.init))]
    }
}
