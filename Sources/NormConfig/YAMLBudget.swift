import CYaml // Yams' bundled libyaml (never the system one); only its event parser is used here.
public import StageKit

/// Checks a YAML text against the resource limits before anything is composed.
///
/// Yams composes a whole document, substituting every alias with its anchored node and hashing
/// mapping keys, and the loader then copies every expanded node: a 1 KB "billion laughs" file
/// (nine anchors, each a list of nine aliases to the previous one) means 10⁹ nodes, and a
/// thousand-deep `[[[[…` overflows the stack of the recursive composer. This pass reads only
/// libyaml's event stream (constant memory per event) and adds up, for each anchor, the nodes of
/// its subtree, so an alias costs its anchor's size without being expanded:
///
///     nodes(scalar) = 1,  nodes(collection) = 1 + Σ nodes(children),  nodes(*alias) = nodes(anchor)
///
/// It stops at the first event that takes the total above `ConfigLimits.maxYAMLNodes` or the
/// nesting above `ConfigLimits.maxYAMLDepth`, so a refusal costs at most one pass over the text.
enum YAMLBudget {
    /// The first limit `text` exceeds, located at the event that exceeds it; `nil` when within
    /// limits or when the text is not valid YAML (the composer then reports the syntax error with
    /// its usual message).
    static func check(
        _ text: String, file: String, maxNodes: Int = ConfigLimits.maxYAMLNodes,
        maxDepth: Int = ConfigLimits.maxYAMLDepth
    ) -> ConfigIssue? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer -> ConfigIssue? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var walk = Walk()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                func location() -> SourceLocation { // only built for a refusal
                    SourceLocation(file: file, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_SCALAR_EVENT:
                    walk.leaf(nodes: 1, anchor: name(event.data.scalar.anchor))
                case YAML_ALIAS_EVENT:
                    walk.leaf(nodes: name(event.data.alias.anchor).flatMap { walk.anchors[$0] } ?? 1, anchor: nil)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                    walk.open(anchor: name(anchor))
                    if walk.depth > maxDepth {
                        return ConfigIssue(
                            at: location(), path: .root,
                            "the YAML nests collections more than \(maxDepth) levels deep, the limit (\(ConfigLimits.reference))")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    walk.close()
                default:
                    break
                }
                if walk.total > maxNodes {
                    return ConfigIssue(
                        at: location(), path: .root,
                        "the YAML expands to more than \(maxNodes) nodes, the limit (each use of an alias counts "
                            + "every node of its anchor; \(ConfigLimits.reference))")
                }
            }
        }
    }

    private static func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        anchor.map { String(cString: $0) }
    }

    /// Node counts of the collections still open, and of every anchor seen so far.
    private struct Walk {
        var total = 0
        var anchors: [String: Int] = [:]
        private var open: [(nodes: Int, anchor: String?)] = []

        var depth: Int { open.count }

        /// A scalar or an alias worth `nodes`. The walk stops as soon as `total` exceeds the limit
        /// and no anchor is larger than the total, so these sums stay far below `Int.max`.
        mutating func leaf(nodes: Int, anchor: String?) {
            if let anchor { anchors[anchor] = nodes }
            add(nodes)
        }

        mutating func open(anchor: String?) {
            total += 1
            open.append((1, anchor))
        }

        mutating func close() {
            guard let frame = open.popLast() else { return }
            if let anchor = frame.anchor { anchors[anchor] = frame.nodes }
            if !open.isEmpty { open[open.count - 1].nodes += frame.nodes }
        }

        private mutating func add(_ nodes: Int) {
            total += nodes
            if !open.isEmpty { open[open.count - 1].nodes += nodes }
        }
    }
}
