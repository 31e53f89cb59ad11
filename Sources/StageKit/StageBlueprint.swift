import Synchronization

/// One stage's configuration, read and checked once: what a `StageFactory` returns instead of a
/// stage, so that building a chain never reads the configuration again and so cannot fail for a
/// configuration reason.
///
/// Binding creates the first instance, because for some kinds creating *is* the configuration
/// check (a run-time plugin's `create` validates its own keys) and because the fingerprint is the
/// instance's. The first `makeStage()` hands that instance out, so each stage of a load is created
/// exactly once; later calls (a second chain from the same plan: a test, a reload) create a fresh
/// one from the parsed parameters. The first instance has seen no batch and no restore before it is
/// handed out, so it is indistinguishable from a fresh one.
public struct StageBlueprint: Sendable {
    /// The `type:` it builds.
    public let kind: String
    /// Width of the columns the stage sees.
    public let featureCount: Int
    /// The stage's `trainingRowMultiple`.
    public let trainingRowMultiple: Int
    /// The stage's fingerprint (`Stage.fingerprint`): parameters that give its statistics their
    /// meaning. Equal fingerprints mean a saved state of one can be restored into the other.
    public let fingerprint: [String: String]
    /// What else tells two configurations of the kind apart: the built-in stages' `parameters`
    /// (momentum, gamma, clipping…), a plugin's configuration as it receives it. Not part of the
    /// fingerprint: a stage with other settings but the same fingerprint can take over the statistics.
    public let settings: [String: StageParameter]
    /// Whether the stage can train from a sync group's merged moments (`MomentSynchronizedStage`).
    public let synchronizable: Bool

    private let first: FirstInstance
    private let again: @Sendable () throws(StageError) -> any Stage

    /// For a stage whose creation cannot fail once its parameters were read (every built-in stage):
    /// `make` builds one from the parameters it captured.
    public init(_ make: @escaping @Sendable () -> any Stage) {
        self.init(first: make(), settings: nil, again: { () throws(StageError) in make() })
    }

    /// For a stage whose creation can fail at run time (a plugin's `create` may run out of memory):
    /// `first` was created while the configuration was checked; `again` creates another one.
    /// - Parameter settings: what tells two configurations of the kind apart; `nil` takes `first.parameters`.
    public init(
        first: sending any Stage, settings: [String: StageParameter]?,
        again: @escaping @Sendable () throws(StageError) -> any Stage
    ) {
        self.kind = first.kind
        self.featureCount = first.featureCount
        self.trainingRowMultiple = first.trainingRowMultiple
        self.fingerprint = first.fingerprint
        self.settings = settings ?? first.parameters
        self.synchronizable = first is any MomentSynchronizedStage
        self.first = FirstInstance(first)
        self.again = again
    }

    /// The instance created while binding, the first time; a fresh one after that.
    /// - Throws: only what creating a stage can throw at run time (a plugin's `create` failing).
    public func makeStage() throws(StageError) -> any Stage {
        if let stage = first.take() { return stage }
        return try again()
    }
}

/// The instance created while binding, handed out once.
///
/// `@unchecked Sendable` is sound: the mutex lets exactly one caller through to `stage`, which it
/// takes out, and the blueprint never touches the stage again — ownership moves to that caller.
private final class FirstInstance: @unchecked Sendable {
    private let slot: Mutex<Bool>
    private nonisolated(unsafe) var stage: (any Stage)?

    init(_ stage: sending any Stage) {
        self.stage = stage
        self.slot = Mutex(false)
    }

    /// The stage for the first caller (who alone touches `stage` afterwards), `nil` for every other.
    func take() -> (any Stage)? {
        let mine = slot.withLock { taken in
            defer { taken = true }
            return !taken
        }
        guard mine else { return nil }
        defer { stage = nil }
        return stage
    }
}
