import ArgumentParser
import BuiltinStages
import Foundation
import NormConfig
import StageKit

/// `normd stages [--config FILE] [--format text|json]`: every stage kind `type:` accepts, with its
/// declared parameters (`ParameterSpec`), so the keys, defaults and ranges can be looked up without
/// reading the code. With `--config`, the configuration's `plugins:` are loaded and listed too —
/// a plugin's keys are known only to its own code, so it lists none.
struct StagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages",
        abstract: "List every stage kind with its parameters (exit 0; 78 if --config's plugins cannot be loaded)."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .long, help: "Also list the plugins this YAML configuration loads.")
    var config: String?

    @Option(name: .long, help: "text (a table, default) or json.")
    var format: Format = .text

    /// One stage kind as listed; `parameters` is `nil` for a plugin (unknown, not empty), written
    /// as an explicit JSON `null`.
    struct Listing: Encodable {
        var kind: String
        var origin: String
        var summary: String
        var parameters: [ParameterSpec]?

        private enum CodingKeys: String, CodingKey { case kind, origin, summary, parameters }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind, forKey: .kind)
            try container.encode(origin, forKey: .origin)
            try container.encode(summary, forKey: .summary)
            try container.encode(parameters, forKey: .parameters)
        }
    }

    func run() throws {
        var plugins: [StageFactory] = []
        if let config {
            // The same resolution as every other command; only reading the file and loading its
            // plugins decide what is listed (a pipeline's own errors are `normd validate`'s business).
            let resolution = ConfiguredStages.resolve(file: config)
            for issue in resolution.loadIssues { StandardError.print(issue.description) }
            let errors = resolution.loadIssues.filter { $0.severity == .error }.count
            if errors > 0 {
                StandardError.print("\(config): \(errors) error\(errors == 1 ? "" : "s")")
                throw ExitStatus.configError
            }
            plugins = resolution.pluginKinds
        }
        let listings =
            BuiltinStages.factories.map { Listing(kind: $0.kind, origin: "builtin", summary: $0.summary, parameters: $0.parameters) }
            + plugins.map { Listing(kind: $0.kind, origin: "plugin", summary: $0.summary, parameters: nil) }
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(["stages": listings]), as: UTF8.self))
        case .text:
            print(listings.map(Self.table).joined(separator: "\n\n"))
        }
    }

    /// `kind (origin): summary`, then one aligned row per key (nested keys as `parent.child`).
    static func table(_ listing: Listing) -> String {
        let head = "\(listing.kind) (\(listing.origin)): \(listing.summary)"
        guard let parameters = listing.parameters else { return head + "\n  parameters: unknown (read by the plugin itself)" }
        func rows(_ specs: [ParameterSpec], prefix: String) -> [[String]] {
            specs.flatMap { spec in
                [
                    [
                        prefix + spec.key, spec.type.rawValue, spec.defaultValue.yamlText, spec.rule.rawValue,
                        spec.conventions.isEmpty ? "all" : spec.conventions.joined(separator: ", "), spec.doc,
                    ]
                ]
                    + rows(spec.children, prefix: prefix + spec.key + ".")
            }
        }
        let table = [["key", "type", "default", "range", "convention", "doc"]] + rows(parameters, prefix: "")
        let widths = (0..<5).map { column in table.map { $0[column].count }.max() ?? 0 }
        let lines = table.map { row in
            "  " + (0..<5).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                + "  " + row[5]
        }
        return ([head] + lines).joined(separator: "\n")
    }
}
