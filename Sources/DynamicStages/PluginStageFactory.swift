internal import CStageABI
import StageKit

/// Turns a plugin's stage table into an ordinary `StageFactory`, so plugin kinds are bound, built,
/// listed and reported exactly like built-in ones.
enum PluginStageFactory {
    /// The keys the host reads itself and never passes to a plugin.
    static let hostKeys: Set<String> = ["type", "columns"]

    static func make(_ table: PluginStageTable) -> StageFactory {
        StageFactory(kind: table.kind, summary: table.summary) { reader, context in
            bind(table, reader: reader, context: context)
        }
    }

    /// A plugin checks its configuration in `create`, so binding creates the first instance (which
    /// the first chain then takes: one `create` per stage per load). A refusal becomes a located
    /// issue at the key the plugin named (or at the stage when it named none), like a built-in
    /// stage's error. Later instances get the same JSON; a refusal then is a run-time `StageError`.
    private static func bind(_ table: PluginStageTable, reader: ParameterReader, context: StageBuildContext) -> StageBlueprint? {
        let entries = (reader.node.mapEntries ?? []).filter { !hostKeys.contains($0.key) }
        // The plugin decides which keys it knows; the host must not report them as unknown.
        for entry in entries { reader.accept(entry.key) }
        let json = ConfigNode(.map(entries)).json
        let first: PluginStage
        do throws(Refusal) {
            first = try create(table, entries: entries, json: json, context: context)
        } catch {
            reader.error(error.key, error.message)
            return nil
        }
        // The plugin's own parameters are opaque to the host: its configuration tells two apart.
        return StageBlueprint(first: first, settings: ["configuration": .text(json)]) { () throws(StageError) in
            do throws(Refusal) {
                return try create(table, entries: entries, json: json, context: context)
            } catch {
                throw .failed(kind: table.kind, error.message)
            }
        }
    }

    /// Why `create` gave no instance, and the key the plugin blamed (`nil`: the stage as a whole).
    struct Refusal: Error {
        var message: String
        var key: String?
    }

    /// One call of the plugin's `create` with the stage's mapping as JSON.
    private static func create(
        _ table: PluginStageTable, entries: [ConfigEntry], json: String,
        context: StageBuildContext
    ) throws(Refusal) -> PluginStage {
        let errors = ErrorBuffers()
        var error = errors.prepare()
        var instance: UnsafeMutableRawPointer?
        // The buffer is registered for the host's config reader while `create` runs (HostServices).
        let status = HostServices.withConfig(entries, json: json) { buffer in
            table.vtable.pointee.create(buffer, context.featureCount, context.batchSize, &instance, &error)
        }
        guard status == NORMD_STAGE_OK else {
            let (message, key) = errors.reported
            let text =
                message.isEmpty
                ? "stage '\(table.kind)' of plugin '\(table.plugin)' refused its configuration (status \(status), no message)"
                : message
            throw Refusal(message: text, key: key.isEmpty ? nil : key)
        }
        guard let instance else {
            throw Refusal(message: "stage '\(table.kind)' of plugin '\(table.plugin)' reported success but returned no instance")
        }
        return PluginStage(table: table, instance: instance, featureCount: context.featureCount, errors: errors)
    }
}
