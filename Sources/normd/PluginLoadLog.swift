import DynamicStages
import Logging

/// What `normd run` runs with: one logfmt line per plugin library it loaded, so an operator can
/// tell from the log which file provided which stage kinds (a path that resolves elsewhere than
/// expected, a stale build) and whether the library took the host services of `normd_stage.h`.
enum PluginLoadLog {
    static func log(_ libraries: [PluginLibrary], to logger: Logger) {
        for library in libraries {
            logger.info(
                "plugin loaded",
                metadata: [
                    "plugin": "\(library.name)",
                    "path": "\(library.path)",
                    "plugin_name": "\(library.pluginName)",
                    "kinds": "\(library.kinds.joined(separator: ","))",
                    "host_services": "\(library.takesHostServices ? "yes" : "no")",
                ])
        }
    }
}
