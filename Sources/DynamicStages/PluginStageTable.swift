internal import CStageABI

/// One checked stage vtable of a loaded library, with the strings copied out once.
///
/// Immutable and shared by every instance of the kind; the pointer stays valid because normd never
/// unloads a plugin library. `@unchecked Sendable`: the table is read-only static data.
final class PluginStageTable: @unchecked Sendable {
    let vtable: UnsafePointer<normd_stage_vtable>
    let kind: String
    let summary: String
    let stateVersion: UInt32
    /// The library as the configuration names it, for messages.
    let plugin: String

    init(vtable: UnsafePointer<normd_stage_vtable>, kind: String, plugin: String) {
        self.vtable = vtable
        self.kind = kind
        self.plugin = plugin
        self.stateVersion = vtable.pointee.state_version
        self.summary = vtable.pointee.summary.map { String(cString: $0) } ?? "run-time plugin stage from \(plugin)"
    }

    /// The checks the loader makes before a table is used: size, kind, required functions.
    static func checked(_ pointer: UnsafePointer<normd_stage_vtable>?, index: Int, plugin: String) throws(PluginLoadError) -> PluginStageTable {
        guard let pointer else { throw .invalidKind(plugin: plugin, index: index, kind: nil) }
        // Read struct_size first: fields past it may not exist in the plugin's struct.
        let size = UnsafeRawPointer(pointer).load(as: UInt32.self)
        guard Int(size) >= PluginABI.vtableSize else {
            throw .structTooSmall(plugin: plugin, structName: "stage table \(index) (normd_stage_vtable)", size: size, needed: PluginABI.vtableSize)
        }
        let table = pointer.pointee
        let kind = table.kind.map { String(cString: $0) }
        guard let kind, isIdentifier(kind) else { throw .invalidKind(plugin: plugin, index: index, kind: kind) }
        let required: [(String, Bool)] = [
            ("create", table.create != nil), ("process", table.process != nil), ("save_state", table.save_state != nil),
            ("load_state", table.load_state != nil), ("destroy", table.destroy != nil),
        ]
        if let missing = required.first(where: { !$0.1 }) {
            throw .missingFunction(plugin: plugin, kind: kind, function: missing.0)
        }
        return PluginStageTable(vtable: pointer, kind: kind, plugin: plugin)
    }

    private static func isIdentifier(_ text: String) -> Bool {
        func isLetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        guard let first = text.unicodeScalars.first, isLetter(first) else { return false }
        return text.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
