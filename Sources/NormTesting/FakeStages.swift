public import NormCore
public import StageKit

// Small stages with obvious arithmetic, so a test can see which stage ran, in which mode, and what
// the chain did with its statistics. Each keeps the `Stage` contract except where its doc says it
// breaks it on purpose.

/// Adds 1000 to every value and counts train batches.
public final class MarkingStage: Stage {
    public let kind = "marking"
    public let stateVersion: UInt32 = 1
    public let featureCount: Int
    public let trainingRowMultiple = 1
    public var fingerprint: [String: String] { [:] }
    public private(set) var trainBatches = 0

    public init(featureCount: Int) { self.featureCount = featureCount }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        if mode == .train { trainBatches += 1 }
        batch.withUnsafeMutableValues { for i in $0.indices { $0[i] += 1000 } }
    }

    public func saveState() -> StageState { StageState(kind: kind, stateVersion: stateVersion) }
    public func restoreState(_ state: StageState) throws(StageError) {}
}

/// Multiplies every value by 10 and records what the chain hands it: each mode, and how many rows
/// it trained on (its only statistic).
public final class RecordingStage: Stage {
    public let kind = "recording"
    public let stateVersion: UInt32 = 1
    public let featureCount: Int
    public let trainingRowMultiple: Int
    public var fingerprint: [String: String] { ["kind": kind] }
    public private(set) var modes: [Mode] = []
    public var trainedRows = 0

    public init(featureCount: Int, trainingRowMultiple: Int = 1) {
        self.featureCount = featureCount
        self.trainingRowMultiple = trainingRowMultiple
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        modes.append(mode)
        if mode == .train { trainedRows += batch.rows }
        batch.withUnsafeMutableValues { values in for i in values.indices { values[i] *= 10 } }
    }

    public func saveState() -> StageState {
        StageState(kind: kind, stateVersion: stateVersion, counters: ["trained_rows": Int64(trainedRows)])
    }

    public func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: kind, upTo: stateVersion)
        trainedRows = Int(try state.counter("trained_rows"))
    }
}

/// Learns the per-feature sum of every train batch and doubles the values. It does not adopt
/// `StatisticsTransaction`, so a chain must set it aside through `saveState()`.
public final class SummingStage: Stage {
    public let kind = "summing"
    public let stateVersion: UInt32 = 1
    public let featureCount: Int
    public let trainingRowMultiple = 1
    public var fingerprint: [String: String] { ["kind": kind] }
    public private(set) var sums: [Double]
    public private(set) var batches: Int64 = 0
    /// Every `process` call, in either mode.
    public private(set) var calls = 0

    public init(featureCount: Int) {
        self.featureCount = featureCount
        sums = [Double](repeating: 0, count: featureCount)
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        calls += 1
        if mode == .train {
            for row in 0..<batch.rows { for f in 0..<featureCount { sums[f] += Double(batch[row, f]) } }
            batches += 1
        }
        batch.withUnsafeMutableValues { values in for i in values.indices { values[i] *= 2 } }
    }

    public func saveState() -> StageState {
        StageState(kind: kind, stateVersion: stateVersion, statistics: ["sum": sums], counters: ["batches": batches])
    }

    public func restoreState(_ state: StageState) throws(StageError) {
        sums = try state.statistic("sum", count: featureCount)
        batches = try state.counter("batches")
    }
}

/// Adds 1 to every value, then fails every train batch the way `failure` says, after changing its
/// own statistic `learned` (so a half-processed batch and a missing rollback both show). In infer
/// mode it only adds 1, or throws too when `failsInInfer`.
public final class FailingStage: Stage {
    /// How a train batch fails.
    public enum Failure: Sendable {
        /// Throws `StageError.failed`.
        case throwsError
        /// Writes NaN into the output (row 1, column 0).
        case writesNaN
        /// Leaves a NaN in its own statistics.
        case poisonsStatistics
    }

    public let kind = "failing"
    public let stateVersion: UInt32 = 1
    public let featureCount: Int
    public let trainingRowMultiple = 1
    public var fingerprint: [String: String] { ["kind": kind] }
    public let failure: Failure
    public let failsInInfer: Bool
    public private(set) var learned: [Double]

    public init(featureCount: Int, failure: Failure = .throwsError, failsInInfer: Bool = false) {
        self.featureCount = featureCount
        self.failure = failure
        self.failsInInfer = failsInInfer
        learned = [Double](repeating: 0, count: featureCount)
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        batch.withUnsafeMutableValues { values in for i in values.indices { values[i] += 1 } }
        guard mode == .train else {
            if failsInInfer { throw .failed(kind: kind, "boom") }
            return
        }
        learned[0] += 1
        switch failure {
        case .throwsError: throw .failed(kind: kind, "boom")
        case .writesNaN: batch[1, 0] = .nan
        case .poisonsStatistics: learned[0] = .nan
        }
    }

    public func saveState() -> StageState { StageState(kind: kind, stateVersion: stateVersion, statistics: ["learned": learned]) }
    public func restoreState(_ state: StageState) throws(StageError) { learned = state.statistics["learned"] ?? learned }
}

/// Breaks the contract on purpose: it counts infer batches as if they were training, to prove the
/// conformance suite reports what it claims to check.
public final class LeakyStage: Stage {
    public let kind = "leaky"
    public let stateVersion: UInt32 = 1
    public let featureCount: Int
    public let trainingRowMultiple = 1
    public let fingerprint = ["kind": "leaky"]
    private var batches: Int64 = 0

    public init(featureCount: Int) { self.featureCount = featureCount }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        guard batch.features == featureCount else { throw StageError.widthMismatch(expected: featureCount, got: batch.features) }
        batches += 1
    }

    public func saveState() -> StageState { StageState(kind: kind, stateVersion: stateVersion, counters: ["batches": batches]) }

    public func restoreState(_ state: StageState) throws(StageError) { batches = try state.counter("batches") }
}
