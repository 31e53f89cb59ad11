public import NormCore
public import StageKit

/// What an output header says about a synchronized train batch: `sync: {step, members}`, the
/// global step and the ranks whose rows made it (fewer than the group: a degraded step).
public struct SyncStamp: Sendable, Equatable {
    public var step: UInt64
    public var members: [Int]

    public init(step: UInt64, members: [Int]) {
        self.step = step
        self.members = members
    }
}

/// A pipeline's membership in a sync group, as the engine sees it (the daemon implements it over
/// ZeroMQ; the engine knows no socket). Called only from the pipeline's thread, one step at a time:
/// `beginStep`, then `exchange` once per stage in chain order, then `finishStep`.
public protocol StepSynchronizer: AnyObject {
    /// Whether this member may train the next step. `false` while it is rejoining the group (stale
    /// or never joined): the batch then runs in infer mode with its last statistics. May restore a
    /// snapshot of the group's statistics into `chain` (that is how a member rejoins) and hands the
    /// chain's statistics to members asking for a snapshot.
    func beginStep(chain: StageChain) -> Bool
    /// Sends this member's moments for `stage` of the current step and returns the merged moments
    /// of the members present, or throws `.unavailable` (this member is then stale and rejoins).
    func exchange(stage: Int, _ contribution: MomentContribution) throws(SyncStepError) -> MomentContribution
    /// The step ended. `learned`: the chain trained from the merged moments (false: a stage failed
    /// after the merge, so this member is stale now). Returns the header's stamp for a learned step.
    func finishStep(chain: StageChain, learned: Bool) -> SyncStamp?
    /// Between batches (at least every wake-up of the pipeline's loop): handle what the group sent
    /// — a leader's collection, late members, snapshot requests — without waiting.
    func serviceIdle(chain: StageChain)
    /// The last global step this member's statistics learned (checkpoints record it as `sync_step`).
    var chainStep: UInt64 { get }
}
