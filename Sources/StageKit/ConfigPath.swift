/// A dotted path to a configuration value, printed the way users read it:
/// `pipelines[0].stages[2].renorm_clipping.rmax`.
public struct ConfigPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    public static let root = ConfigPath()

    public func appending(_ key: String) -> ConfigPath {
        ConfigPath(components + [.key(key)])
    }

    public func appending(index: Int) -> ConfigPath {
        ConfigPath(components + [.index(index)])
    }

    /// Keys longer than PATH_MAX (4096 bytes) are cut (`ConfigNode.excerpt`): a key comes from the
    /// file and may be megabytes long, while the one long key normd makes itself, a file path for
    /// a file-level problem, never exceeds that.
    public var description: String {
        var out = ""
        for component in components {
            switch component {
            case .key(let key):
                let key = ConfigNode.excerpt(key, limit: 4096)
                out += out.isEmpty ? key : ".\(key)"
            case .index(let index): out += "[\(index)]"
            }
        }
        return out.isEmpty ? "(top level)" : out
    }
}
