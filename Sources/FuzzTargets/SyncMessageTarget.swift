import NormConfig
import StageKit
import SyncProtocol

/// Decodes the bytes as one frame of the sync protocol (`SyncMessage.decode`, what a member's
/// ROUTER and DEALERs receive from the network), with the daemon's own bounds, then uses what it
/// accepted as a step leader would.
///
/// The input is the frame itself (seeds are frames captured between two real daemons by
/// `Scripts/fuzz-seeds.py`). Promises checked:
/// - decoding is exact: an accepted frame re-encodes to the same bytes (nothing is dropped or guessed);
/// - a contribution that `MomentContribution.isValid` accepts for its own shape can be merged: the
///   leader merges contributions and trains from the result *without* checking it again (it is its
///   own), so two members sending it, merged with an empty one, must give finite moments with
///   `M2 ≥ 0` — never a NaN or ∞ statistic on the leader;
/// - hashing it into the group's state hash (`FNV64`) and reading its variances does not trap.
@discardableResult
public func fuzzSyncMessage(_ data: UnsafeRawBufferPointer) -> Bool {
    let bytes = Array(data)
    guard let message = SyncMessage.decode(bytes, maxFeatures: ConfigLimits.maxFeatures, maxMembers: SyncConfiguration.maxMembers) else {
        return false
    }
    guard message.encoded() == bytes else { violated(.sync, "an accepted \(message.kind) frame does not re-encode to the same bytes") }
    guard let moments = message.moments else { return true }
    var hasher = FNV64()
    hasher.add(moments)
    _ = (moments.variance, moments.unbiasedVariance, moments.columnMoments)
    guard moments.isValid(features: moments.features, extremes: moments.hasExtremes) else { return true }
    let empty = MomentContribution.empty(features: moments.features, extremes: moments.hasExtremes)
    guard let merged = MomentContribution.merge([moments, empty, moments]) else { violated(.sync, "merging three contributions gave none") }
    guard merged.count >= moments.count, merged.mean.allSatisfy(\.isFinite), merged.m2.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
        violated(.sync, "two valid contributions (n = \(moments.count)) merge into non-finite moments: the leader would train from them")
    }
    return true
}
