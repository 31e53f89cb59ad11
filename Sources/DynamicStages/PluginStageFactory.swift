internal import CStageABI
import StageKit

/// Turns a plugin's stage table into an ordinary `StageFactory`, so plugin kinds are built, listed
/// and reported exactly like built-in ones.
enum PluginStageFactory {
    /// The keys the host reads itself and never passes to a plugin.
    static let hostKeys: Set<String> = ["type", "columns"]

    static func make(_ table: PluginStageTable) -> StageFactory {
        StageFactory(kind: table.kind, summary: table.summary) { reader, context in
            build(table, reader: reader, context: context)
        }
    }

    /// Calls `create` with the stage's mapping as JSON. A refusal becomes a located issue at the key
    /// the plugin named (or at the stage when it named none), like a built-in stage's error.
    private static func build(_ table: PluginStageTable, reader: ParameterReader, context: StageBuildContext) -> (any Stage)? {
        let entries = (reader.node.mapEntries ?? []).filter { !hostKeys.contains($0.key) }
        // The plugin decides which keys it knows; the host must not report them as unknown.
        for entry in entries { reader.accept(entry.key) }
        let json = ConfigNode(.map(entries)).json
        let errors = ErrorBuffers()
        var error = errors.prepare()
        var instance: UnsafeMutableRawPointer?
        // The buffer is registered for the host's config reader while `create` runs (HostServices).
        let status = HostServices.withConfig(entries, json: json) { buffer in
            table.vtable.pointee.create(buffer, context.featureCount, context.batchSize, &instance, &error)
        }
        guard status == NORMD_STAGE_OK else {
            let (message, key) = errors.reported
            let text = message.isEmpty
                ? "stage '\(table.kind)' of plugin '\(table.plugin)' refused its configuration (status \(status), no message)"
                : message
            reader.error(key.isEmpty ? nil : key, text)
            return nil
        }
        guard let instance else {
            reader.error(nil, "stage '\(table.kind)' of plugin '\(table.plugin)' reported success but returned no instance")
            return nil
        }
        return PluginStage(table: table, instance: instance, featureCount: context.featureCount, errors: errors)
    }
}
