import StageKit

/// Checks a step leader's `result` before a member trains from it (Docs/SYNC.md, "A leader's result
/// is checked").
///
/// Why: the result is the one input a member trains from that it did not measure itself.
/// `MomentContribution.isValid` bounds its values, but a well-formed result can still disagree with
/// what the member knows for certain — its own contribution and stage 0 of the same step. A hostile
/// leader (or any peer of a group without CURVE) sent a stage-1 result of count 0: the batch-norm
/// stages' `train(merged:)` returned early, so the member published its rows unnormalized while the
/// step counted as trained. What a member can check without the other members' moments:
///
/// - the ranks present are distinct ranks of the group, in ascending order, and include this member
///   (it contributed: a result that leaves it out was not merged from its rows);
/// - the merged count covers this member's own rows, `n ≥ n_own` (the others add `n_i ≥ 0`), and is
///   exactly `n_own` — the moments exactly its own — when it is the only rank present;
/// - for `min_max`, the merged extremes contain its own (`min ≤ min_own`, `max ≥ max_own`);
/// - a later stage (`k > 0`) merges the rows of stage 0 again, normalized: its ranks are a subset of
///   stage 0's, and its count is stage 0's count `n₀` when the ranks are the same, at most `n₀` when a
///   member present at stage 0 went missing (absent) in between.
///
/// Pure: no socket, no state; `SyncMember` keeps what stage 0 established and counts the refusal.
struct SyncResultCheck {
    /// This member's rank and the group's size (`members.count`).
    let rank: Int
    let groupSize: Int

    /// What stage 0 of the step established, which every later stage of the same step must agree with.
    struct FirstStage {
        var members: [Int]
        var count: Int64
    }

    /// Why the result must be refused, or `nil` when this member may train from it.
    /// - Parameters:
    ///   - shape: width and extremes flag of the stage's contributions.
    ///   - own: the contribution this member sent for this stage.
    ///   - first: stage 0 of this step (`nil` for stage 0 itself).
    func problem(
        members: [Int], merged: MomentContribution?, shape: (features: Int, extremes: Bool), own: MomentContribution,
        first: FirstStage?
    ) -> String? {
        guard let merged, merged.isValid(features: shape.features, extremes: shape.extremes) else {
            return "its merged moments are malformed (shape, or values no Float32 rows can have)"
        }
        guard zip(members, members.dropFirst()).allSatisfy({ $0 < $1 }), members.allSatisfy({ (0..<groupSize).contains($0) }) else {
            return "its ranks present \(members) are not distinct ranks of this group of \(groupSize) in ascending order"
        }
        guard members.contains(rank) else {
            return "its ranks present \(members) leave out this member (rank \(rank)), which contributed"
        }
        guard merged.count >= own.count else {
            return "its merged count \(merged.count) is below this member's own \(own.count) rows"
        }
        if members == [rank] && merged != own {
            return "only this member is present, yet the merged moments (count \(merged.count)) are not its own (count \(own.count))"
        }
        if let feature = excludedExtreme(merged, own) {
            return "its merged extremes of feature \(feature) exclude this member's rows"
        }
        guard let first else { return nil }
        guard Set(members).isSubset(of: first.members) else {
            return "its ranks present \(members) are not among stage 0's \(first.members)"
        }
        if members == first.members && merged.count != first.count {
            return "its merged count \(merged.count) differs from stage 0's \(first.count) with the same ranks present"
        }
        if merged.count > first.count {
            return "its merged count \(merged.count) exceeds stage 0's \(first.count)"
        }
        return nil
    }

    /// The first feature whose merged extremes do not contain this member's own (`min_max`), if any.
    private func excludedExtreme(_ merged: MomentContribution, _ own: MomentContribution) -> Int? {
        guard merged.hasExtremes, own.hasExtremes, own.count > 0 else { return nil }
        return (0..<own.features).first { merged.minimum[$0] > own.minimum[$0] || merged.maximum[$0] < own.maximum[$0] }
    }
}
