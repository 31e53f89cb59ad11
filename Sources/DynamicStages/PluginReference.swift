import Foundation
public import StageKit

/// One library to load, as named by the configuration's top-level `plugins:` list.
///
/// ```yaml
/// plugins:
///   - plugins/librobust_scale.so   # a file, relative to this configuration file
///   - /opt/normd/plugins           # a directory: every *.so in it, in name order
/// ```
public struct PluginReference: Sendable, Equatable {
    /// As written (a directory member: the directory as written, then `/` and the file name).
    public var name: String
    /// Absolute path, relative names resolved against the configuration file's directory.
    public var path: String
    public var location: SourceLocation?
    /// `plugins[i]`, for messages.
    public var configPath: ConfigPath

    public init(name: String, path: String, location: SourceLocation?, configPath: ConfigPath) {
        self.name = name
        self.path = path
        self.location = location
        self.configPath = configPath
    }

    /// Reads `plugins:` from the configuration's top-level mapping; directories are expanded here.
    /// Problems (wrong types, an unreadable directory) go to `diagnostics`.
    public static func read(root: ConfigNode, configFile: String, diagnostics: ConfigDiagnostics) -> [PluginReference] {
        guard let node = root.entry("plugins")?.value, !node.isNull else { return [] }
        let listPath = ConfigPath([.key("plugins")])
        guard let items = node.listItems else {
            diagnostics.error(
                at: node.location, path: listPath,
                "expected a list of shared-library paths or directories, got \(node.value.typeName) \(node.quoted)")
            return []
        }
        let base = baseDirectory(of: configFile)
        var references: [PluginReference] = []
        for (index, item) in items.enumerated() {
            let itemPath = listPath.appending(index: index)
            guard case .string(let written) = item.value, !written.isEmpty else {
                diagnostics.error(
                    at: item.location, path: itemPath,
                    "expected a shared-library path or a directory, got \(item.value.typeName) \(item.quoted)")
                continue
            }
            let resolved = written.hasPrefix("/") ? written : base.appendingPathComponent(written).path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue else {
                references.append(PluginReference(name: written, path: resolved, location: item.location, configPath: itemPath))
                continue
            }
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: resolved).filter { $0.hasSuffix(".so") }.sorted()
            } catch {
                diagnostics.error(at: item.location, path: itemPath, "cannot list plugin directory '\(written)': \(error.localizedDescription)")
                continue
            }
            if names.isEmpty {
                diagnostics.warning(at: item.location, path: itemPath, "plugin directory '\(written)' holds no .so file")
            }
            let prefix = written.hasSuffix("/") ? written : written + "/"
            references += names.map {
                PluginReference(name: prefix + $0, path: resolved + "/" + $0, location: item.location, configPath: itemPath)
            }
        }
        return references
    }

    private static func baseDirectory(of configFile: String) -> URL {
        let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        return URL(fileURLWithPath: configFile, relativeTo: current).standardizedFileURL.deletingLastPathComponent()
    }
}
