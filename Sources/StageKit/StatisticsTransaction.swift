/// A stage that can undo one train batch's update of its statistics without allocating.
///
/// Why: a batch must update every stage of a chain or none (a failure in stage k must not leave
/// stages 0..<k trained on a batch the pipeline then reports as failed). `StageChain` sets every
/// stage's statistics aside before a train batch and puts them back when any stage fails. A stage
/// that does not adopt this protocol (a run-time plugin) is set aside through `saveState()` /
/// `restoreState(_:)`, which is correct but allocates a dictionary per batch; the built-in stages
/// adopt it and copy a few per-feature vectors into storage they keep (no allocation once warm).
public protocol StatisticsTransaction: Stage {
    /// Copies the current statistics aside (overwriting the previous copy).
    func setStatisticsAside()
    /// Puts back the statistics the last `setStatisticsAside()` copied.
    func restoreStatisticsSetAside()
    /// Whether every statistic and derived coefficient is finite: a stage whose statistics became
    /// NaN or infinite must not be checkpointed (JSON cannot hold them) nor used for later batches.
    var statisticsAreFinite: Bool { get }
}

extension Array where Element == Double {
    /// Copies `source` into this array's existing storage (no allocation when the counts match, the
    /// case for a stage's per-feature vectors); falls back to plain assignment otherwise.
    public mutating func overwrite(with source: [Double]) {
        guard count == source.count else { self = Array(source); return }
        withUnsafeMutableBufferPointer { target in
            source.withUnsafeBufferPointer { values in
                for index in values.indices { target[index] = values[index] }
            }
        }
    }

    /// Whether every element is finite: no element has the all-ones exponent of ±∞ and NaN.
    ///
    /// Written as an OR of integer tests over the bit patterns, a reduction the compiler vectorises:
    /// the chain asks this of every statistics vector of every stage after each train batch (nine
    /// vectors per batch in a min_max → batch_norm → batch_renorm chain), and the `&&` form was a
    /// branch per element (~3 % of a 256 × 128 chain, profiled).
    public var allFinite: Bool {
        withUnsafeBufferPointer { values in
            let exponent: UInt64 = 0x7FF0_0000_0000_0000
            var nonFinite: UInt64 = 0
            for value in values { nonFinite |= (value.bitPattern & exponent) == exponent ? 1 : 0 }
            return nonFinite == 0
        }
    }
}
