public import CStageABI

/// The example Swift plugin's entry: normd finds it by its C name with `dlsym`.
///
/// `@_cdecl` gives the function an unmangled C symbol; only C types (from `normd_stage.h`) cross
/// the boundary, so the plugin and normd may be built by different Swift compilers.
@_cdecl("normd_stage_plugin_entry")
public func normdStagePluginEntry() -> UnsafePointer<normd_stage_plugin> {
    PluginTable.shared.header
}

/// The static tables the entry hands out. Allocated once and never freed: the ABI requires them to
/// live as long as the library is loaded, and normd never unloads a plugin.
final class PluginTable: @unchecked Sendable {
    static let shared = PluginTable()

    let header: UnsafePointer<normd_stage_plugin>

    private init() {
        let vtable = UnsafeMutablePointer<normd_stage_vtable>.allocate(capacity: 1)
        vtable.initialize(
            to: normd_stage_vtable(
                struct_size: UInt32(MemoryLayout<normd_stage_vtable>.size),
                state_version: Log1pStage.stateVersion,
                kind: PluginTable.permanent("log1p"),
                summary: PluginTable.permanent("log1p(x + offset), counting training rows; example Swift plugin"),
                create: { json, features, _, instance, error in Log1pStage.create(json, Int(features), instance, error) },
                process: { instance, values, rows, features, train, error in
                    Log1pStage.from(instance).process(values, rows: Int(rows), features: Int(features), train: train != 0, error: error)
                },
                row_multiple: nil,
                fingerprint: { instance, writer in Log1pStage.from(instance).fingerprint(writer) },
                save_state: { instance, writer in Log1pStage.from(instance).save(writer) },
                load_state: { instance, reader, version, error in Log1pStage.from(instance).load(reader, version: version, error: error) },
                destroy: { instance in if let instance { Unmanaged<Log1pStage>.fromOpaque(instance).release() } }
            ))
        let stages = UnsafeMutablePointer<UnsafePointer<normd_stage_vtable>?>.allocate(capacity: 1)
        stages.initialize(to: UnsafePointer(vtable))
        let header = UnsafeMutablePointer<normd_stage_plugin>.allocate(capacity: 1)
        header.initialize(
            to: normd_stage_plugin(
                abi_version: UInt32(NORMD_STAGE_ABI_VERSION),
                struct_size: UInt32(MemoryLayout<normd_stage_plugin>.size),
                plugin_name: PluginTable.permanent("log1p example (Swift)"),
                stage_count: 1,
                stages: UnsafePointer(stages)
            ))
        self.header = UnsafePointer(header)
    }

    /// A C string that lives for the rest of the process.
    private static func permanent(_ text: String) -> UnsafePointer<CChar> {
        UnsafePointer(strdupOf(text))
    }

    private static func strdupOf(_ text: String) -> UnsafeMutablePointer<CChar> {
        let bytes = Array(text.utf8CString)
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        copy.initialize(from: bytes, count: bytes.count)
        return copy
    }
}
