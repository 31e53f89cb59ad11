/// Why a plugin library could not be loaded or registered. `plugin` is the library as the
/// configuration names it (`plugins/librobust.so`), so the message matches what the user wrote.
public enum PluginLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing at the resolved path.
    case notFound(plugin: String, resolvedPath: String)
    /// `dlopen` failed (not a shared library, wrong architecture, a missing dependency…).
    case cannotOpen(plugin: String, dlerror: String)
    /// The library does not export `normd_stage_plugin_entry`.
    case missingEntry(plugin: String, dlerror: String)
    /// The entry returned NULL.
    case noTable(plugin: String)
    /// The plugin was compiled against another major version of `normd_stage.h`.
    case abiVersionMismatch(plugin: String, found: UInt32, expected: UInt32)
    /// A struct is smaller than this ABI version's layout: compiled against a different header.
    case structTooSmall(plugin: String, structName: String, size: UInt32, needed: Int)
    /// `stage_count` is 0.
    case noStages(plugin: String)
    /// A stage table's kind is NULL, empty or not a plain identifier.
    case invalidKind(plugin: String, index: Int, kind: String?)
    /// A required function pointer is NULL.
    case missingFunction(plugin: String, kind: String, function: String)
    /// A stage kind is already provided by normd or by another plugin.
    case duplicateKind(plugin: String, kind: String, owner: String)
    /// The same library (after resolving symlinks) is listed twice.
    case alreadyLoaded(plugin: String, owner: String)

    public var description: String {
        let rebuild = "rebuild it against this normd's normd_stage.h"
        switch self {
        case .notFound(let plugin, let resolvedPath):
            return "plugin '\(plugin)': no such file (\(resolvedPath))"
        case .cannotOpen(let plugin, let dlerror):
            return "plugin '\(plugin)' cannot be loaded: \(dlerror)"
        case .missingEntry(let plugin, let dlerror):
            return "plugin '\(plugin)' is not a normd stage plugin: \(dlerror)"
        case .noTable(let plugin):
            return "plugin '\(plugin)': normd_stage_plugin_entry returned NULL"
        case .abiVersionMismatch(let plugin, let found, let expected):
            return "plugin '\(plugin)' was built for stage ABI version \(found), this normd speaks version \(expected); \(rebuild)"
        case .structTooSmall(let plugin, let structName, let size, let needed):
            return "plugin '\(plugin)': its \(structName) is \(size) bytes, ABI version \(PluginABI.version) needs at least \(needed); \(rebuild)"
        case .noStages(let plugin):
            return "plugin '\(plugin)' provides no stage (stage_count is 0)"
        case .invalidKind(let plugin, let index, let kind):
            let shown = kind.map { "\"\($0)\"" } ?? "NULL"
            return "plugin '\(plugin)': stage \(index) has kind \(shown); a kind is letters, digits and '_', starting with a letter"
        case .missingFunction(let plugin, let kind, let function):
            return "plugin '\(plugin)': stage '\(kind)' has no '\(function)' function"
        case .duplicateKind(let plugin, let kind, let owner):
            return "plugin '\(plugin)': stage type '\(kind)' is already provided by \(owner)"
        case .alreadyLoaded(let plugin, let owner):
            return "plugin '\(plugin)' is already loaded as \(owner)"
        }
    }
}
