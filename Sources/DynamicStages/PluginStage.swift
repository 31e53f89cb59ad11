internal import CStageABI
public import NormCore
public import StageKit

/// A stage implemented by a run-time plugin: every call goes through the plugin's C vtable.
///
/// Owns one plugin instance and destroys it exactly once (in `deinit`). The chain calls a stage
/// from one thread at a time, which is the ABI's threading rule. Width is checked here as well as
/// in the chain, so a plugin never sees a batch of the wrong width.
public final class PluginStage: Stage {
    let table: PluginStageTable
    private let instance: UnsafeMutableRawPointer
    private let errors: ErrorBuffers

    public let featureCount: Int
    public let trainingRowMultiple: Int
    public let fingerprint: [String: String]
    public var kind: String { table.kind }
    public var stateVersion: UInt32 { table.stateVersion }

    /// Takes ownership of `instance`, created by `table`'s `create` for `featureCount` features.
    init(table: PluginStageTable, instance: UnsafeMutableRawPointer, featureCount: Int, errors: ErrorBuffers) {
        self.table = table
        self.instance = instance
        self.errors = errors
        self.featureCount = featureCount
        let vtable = table.vtable.pointee
        self.trainingRowMultiple = max(1, vtable.row_multiple.map { Int($0(instance)) } ?? 1)
        let collected = StateBridge.Fingerprint()
        if let describe = vtable.fingerprint {
            var writer = StateBridge.writer(for: collected)
            withExtendedLifetime(collected) { describe(instance, &writer) }
        }
        collected.pairs["kind"] = table.kind
        self.fingerprint = collected.pairs
    }

    deinit {
        table.vtable.pointee.destroy(instance)
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        guard batch.features == featureCount else {
            throw StageError.widthMismatch(expected: featureCount, got: batch.features)
        }
        guard batch.rows > 0 else { return }
        var error = errors.prepare()
        let rows = batch.rows, features = batch.features, train: Int32 = mode == .train ? 1 : 0
        let process = table.vtable.pointee.process!
        let status = batch.withUnsafeMutableValues { values in
            process(instance, values.baseAddress, rows, features, train, &error)
        }
        guard status == NORMD_STAGE_OK else {
            throw StageError.failed(kind: kind, describe(status: status, action: "process"))
        }
    }

    public func saveState() -> StageState {
        let collector = StateBridge.Collector()
        var writer = StateBridge.writer(for: collector)
        withExtendedLifetime(collector) { table.vtable.pointee.save_state(instance, &writer) }
        return StageState(kind: kind, stateVersion: stateVersion, statistics: collector.vectors, counters: collector.counters)
    }

    public func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: kind, upTo: stateVersion)
        let source = StateBridge.Source(state)
        var reader = StateBridge.reader(for: source)
        var error = errors.prepare()
        let status = withExtendedLifetime(source) { table.vtable.pointee.load_state(instance, &reader, state.stateVersion, &error) }
        guard status == NORMD_STAGE_OK else {
            throw StageError.invalidState(kind: kind, describe(status: status, action: "load_state"))
        }
    }

    /// The plugin's message, or a stand-in naming the call when it wrote none.
    private func describe(status: Int32, action: String) -> String {
        let message = errors.reported.message
        return message.isEmpty ? "\(action) failed with status \(status) (the plugin gave no message)" : message
    }
}
