internal import CStageABI
public import StageKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loaded plugin library and its checked stage tables.
///
/// Opened with `dlopen(path, RTLD_NOW | RTLD_LOCAL)`: every symbol is resolved up front (a missing
/// dependency fails here, at validate time, not mid-stream) and the plugin's symbols cannot clash
/// with another plugin's. Never `dlclose`d: stage instances, kind strings and vtables point into the
/// library for the life of the process, and unloading Swift or C++ code is not reliably safe.
public struct PluginLibrary: Sendable {
    /// The library as the configuration names it.
    public let name: String
    /// The absolute path it was opened from (symlinks resolved).
    public let path: String
    /// The plugin's own `plugin_name`, or the file name.
    public let pluginName: String
    /// Whether the library exports `normd_stage_plugin_host` and was handed the host services.
    public let takesHostServices: Bool
    let tables: [PluginStageTable]

    /// The stage kinds the library provides, in table order.
    public var kinds: [String] { tables.map(\.kind) }

    /// The factories to register, one per kind.
    public var factories: [StageFactory] { tables.map(PluginStageFactory.make) }

    /// Opens `path` and checks the handshake; `name` is used in messages.
    public static func open(path: String, name: String) throws(PluginLoadError) -> PluginLibrary {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw .cannotOpen(plugin: name, dlerror: lastError())
        }
        _ = dlerror()
        guard let symbol = dlsym(handle, PluginABI.entrySymbol) else {
            throw .missingEntry(plugin: name, dlerror: lastError())
        }
        let entry = unsafeBitCast(symbol, to: normd_stage_plugin_entry_fn.self)
        guard let header = entry() else { throw .noTable(plugin: name) }
        // abi_version and struct_size are the first two fields in every version of the header.
        let raw = UnsafeRawPointer(header)
        let version = raw.load(as: UInt32.self)
        guard version == PluginABI.version else {
            throw .abiVersionMismatch(plugin: name, found: version, expected: PluginABI.version)
        }
        let size = raw.load(fromByteOffset: 4, as: UInt32.self)
        guard Int(size) >= PluginABI.headerSize else {
            throw .structTooSmall(plugin: name, structName: "normd_stage_plugin header", size: size, needed: PluginABI.headerSize)
        }
        let plugin = header.pointee
        guard plugin.stage_count > 0, let stages = plugin.stages else { throw .noStages(plugin: name) }
        var tables: [PluginStageTable] = []
        var seen: Set<String> = []
        for index in 0..<Int(plugin.stage_count) {
            let table = try PluginStageTable.checked(stages[index], index: index, plugin: name)
            guard seen.insert(table.kind).inserted else {
                throw .duplicateKind(plugin: name, kind: table.kind, owner: "an earlier stage table of the same plugin")
            }
            tables.append(table)
        }
        let pluginName = plugin.plugin_name.map { String(cString: $0) } ?? name
        // Only after the handshake passed, and before any `create`.
        let takesHostServices = HostServices.offer(to: handle)
        return PluginLibrary(name: name, path: path, pluginName: pluginName, takesHostServices: takesHostServices, tables: tables)
    }

    private static func lastError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown dynamic loader error"
    }
}
