import Foundation
public import StageKit
import Synchronization

/// Loads the configuration's `plugins:` and registers their stage kinds next to the built-ins.
///
/// Runs before the pipelines are read, since `stages:` may name a plugin's kind. Every failure is a
/// located issue at the `plugins[i]` entry that named the library — never a crash — and loading
/// goes on with the next library so one `normd validate` run reports them all.
public enum StagePlugins {
    /// - Parameters:
    ///   - root: the configuration's top-level mapping.
    ///   - configFile: the configuration's path; relative plugin paths are resolved against its directory.
    ///   - registry: holds normd's built-in stages on entry; plugin kinds are added to it.
    /// - Returns: the libraries loaded (all of them stay loaded for the life of the process).
    @discardableResult
    public static func load(
        from root: ConfigNode, configFile: String, into registry: inout StageRegistry,
        diagnostics: ConfigDiagnostics
    ) -> [PluginLibrary] {
        let references = PluginReference.read(root: root, configFile: configFile, diagnostics: diagnostics)
        var owners: [String: String] = [:]
        for kind in registry.kinds { owners[kind] = "normd's built-in stages" }
        var loadedPaths: [String: String] = [:]
        var libraries: [PluginLibrary] = []
        for reference in references {
            do throws(PluginLoadError) {
                let library = try open(reference, loadedPaths: loadedPaths)
                for kind in library.kinds {
                    if let owner = owners[kind] {
                        throw .duplicateKind(plugin: reference.name, kind: kind, owner: owner)
                    }
                }
                for factory in library.factories {
                    try? registry.register(factory) // collisions were ruled out just above
                    owners[factory.kind] = "plugin '\(reference.name)' (\(reference.configPath))"
                }
                loadedPaths[library.path] = "'\(reference.name)' (\(reference.configPath))"
                libraries.append(library)
                loaded.withLock { list in
                    if !list.contains(where: { $0.path == library.path }) { list.append(library) } // validated twice: listed once
                }
            } catch {
                diagnostics.error(at: reference.location, path: reference.configPath, error.description)
            }
        }
        return libraries
    }

    /// Every library this process loaded, in load order (libraries are never unloaded), so `normd
    /// run` can log what it runs with without the caller having to carry the list through validation.
    public static var loadedLibraries: [PluginLibrary] { loaded.withLock { $0 } }

    private static let loaded = Mutex<[PluginLibrary]>([])

    private static func open(_ reference: PluginReference, loadedPaths: [String: String]) throws(PluginLoadError) -> PluginLibrary {
        guard FileManager.default.fileExists(atPath: reference.path) else {
            throw .notFound(plugin: reference.name, resolvedPath: reference.path)
        }
        let real = URL(fileURLWithPath: reference.path).resolvingSymlinksInPath().path
        if let owner = loadedPaths[real] { throw .alreadyLoaded(plugin: reference.name, owner: owner) }
        return try PluginLibrary.open(path: real, name: reference.name)
    }
}
