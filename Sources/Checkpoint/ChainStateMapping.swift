public import StageKit

/// Moves statistics between a live `StageChain` and the records of a state file.
extension PipelineStateRecord {
    /// Captures the current statistics of `chain`.
    public init(name: String, chain: StageChain) {
        self.init(
            name: name, features: chain.featureCount,
            stages: chain.links.enumerated().map { index, link in
                let state = link.stage.saveState()
                return StageStateRecord(
                    index: index, kind: link.stage.kind, stateVersion: state.stateVersion, columns: link.columns.indices,
                    fingerprint: link.stage.fingerprint, statistics: state.statistics, counters: state.counters,
                    params: link.stage.parameters)
            })
    }

    /// Restores these statistics into `chain`, all or nothing.
    ///
    /// Refuses a record whose stage count, row width, stage kinds, columns or fingerprints differ
    /// from the chain's. Parameters outside the fingerprint (momentum, gamma, beta…) may change
    /// between runs: they affect future updates, not what the saved numbers mean.
    public func restore(into chain: StageChain) throws(StateRestoreError) {
        guard features == chain.featureCount else {
            throw StateRestoreError(
                pipeline: name, reason: "the state file was written for \(features) features, the configuration has \(chain.featureCount)")
        }
        guard stages.count == chain.links.count else {
            throw StateRestoreError(pipeline: name, reason: "the state file has \(stages.count) stages, the configuration has \(chain.links.count)")
        }
        for (index, (record, link)) in zip(stages, chain.links).enumerated() {
            let kind = link.stage.kind
            func refuse(_ reason: String) -> StateRestoreError {
                StateRestoreError(pipeline: name, stageIndex: index, stageKind: kind, reason: reason)
            }
            guard record.kind == kind else {
                throw refuse("the state file has a '\(record.kind)' stage here")
            }
            guard record.columns == link.columns.indices else {
                let saved = ColumnSelection(indices: record.columns, rowWidth: features)
                throw refuse("the state file applies it to columns \(saved), the configuration to columns \(link.columns)")
            }
            let expected = link.stage.fingerprint
            guard record.fingerprint == expected else {
                let keys = Set(record.fingerprint.keys).union(expected.keys).sorted()
                let differences = keys.filter { record.fingerprint[$0] != expected[$0] }.map { key in
                    "\(key) is \(record.fingerprint[key] ?? "absent") in the state file, \(expected[key] ?? "absent") in the configuration"
                }
                throw refuse("saved statistics were computed with different parameters: " + differences.joined(separator: "; "))
            }
        }
        let states = stages.map { StageState(kind: $0.kind, stateVersion: $0.stateVersion, statistics: $0.statistics, counters: $0.counters) }
        do {
            try chain.restoreState(states)
        } catch {
            throw StateRestoreError(pipeline: name, reason: error.description)
        }
    }
}
