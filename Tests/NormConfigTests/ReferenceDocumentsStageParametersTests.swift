import BuiltinStages
import Foundation
import StageKit
import Testing

/// `Config/reference.yaml` documents exactly the keys each built-in stage declares, and every
/// default it states is the declared one: the file and the code cannot drift apart silently.
@Suite struct ReferenceDocumentsStageParametersTests {
    /// One `- type: kind` entry of a `stages:` list: its keys with their `(default …)` comments.
    struct Entry {
        var kind: String
        var line: Int
        var keys: [String: String?] = [:]
        /// Keys of nested mappings, by parent key.
        var children: [String: [String: String?]] = [:]
        var convention: String? = nil
    }

    /// Reads the stage entries line by line (a stage entry is a flat mapping with at most one
    /// level of nesting, which is all reference.yaml uses).
    static func stageEntries(of text: String) -> [Entry] {
        var entries: [Entry] = []
        var keyColumn: Int? = nil
        var parent: String? = nil
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let indent = line.prefix { $0 == " " }.count
            let body = line.dropFirst(indent)
            if body.hasPrefix("- type: ") {
                let kind = body.dropFirst("- type: ".count).prefix { !$0.isWhitespace }
                entries.append(Entry(kind: String(kind), line: index + 1))
                keyColumn = indent + 2
                parent = nil
                continue
            }
            guard let column = keyColumn, !body.isEmpty, !body.hasPrefix("#") else { continue }
            guard indent >= column, let colon = body.firstIndex(of: ":") else { keyColumn = nil; continue }
            let key = String(body[..<colon])
            let rest = body[body.index(after: colon)...]
            let (value, comment) = split(rest)
            let stated = statedDefault(value: value, comment: comment)
            if indent == column {
                entries[entries.count - 1].keys[key] = stated
                if key == "convention" { entries[entries.count - 1].convention = value }
                parent = key
            } else if let parent {
                entries[entries.count - 1].children[parent, default: [:]][key] = stated
            }
        }
        return entries
    }

    static func split(_ rest: Substring) -> (value: String, comment: String) {
        let parts = rest.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let value = parts[0].trimmingCharacters(in: .whitespaces)
        return (value, parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
    }

    /// `(default 0.99)` → `"0.99"`; `keras (default)` → `"keras"` (the value named before it).
    static func statedDefault(value: String, comment: String) -> String? {
        if let range = comment.range(of: "(default ") {
            return String(comment[range.upperBound...].prefix { $0 != ")" })
        }
        if let range = comment.range(of: " (default)") {
            return String(comment[..<range.lowerBound].split(separator: " ").last ?? "")
        }
        return nil
    }

    /// Whether the text of a comment's default means the declared default.
    static func matches(_ stated: String, _ declared: StageParameter) -> Bool {
        switch declared {
        case .none: stated == "none"
        case .number(let value): Double(stated) == value
        case .flag(let value): stated == String(value)
        case .text(let value): stated == value
        case .numbers(let values):
            stated.hasPrefix("[") && stated.hasSuffix("]")
                && stated.dropFirst().dropLast().split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                    == values.map(Optional.some)
        }
    }

    static let reference = (try? String(contentsOf: ConfigFilesTests.configDirectory.appendingPathComponent("reference.yaml"), encoding: .utf8)) ?? ""

    /// Keys every stage entry may carry that belong to the chain, not to the stage.
    static let chainKeys: Set<String> = ["columns"]

    @Test(arguments: BuiltinStages.factories.map(\.kind))
    func documentsExactlyTheDeclaredKeysWithTheirDefaults(kind: String) throws {
        let factory = try #require(BuiltinStages.factories.first { $0.kind == kind })
        let entries = Self.stageEntries(of: Self.reference).filter { $0.kind == kind }
        try #require(!entries.isEmpty, "reference.yaml has no '- type: \(kind)' entry")
        let conventionSpec = try #require(factory.parameters.spec("convention"))

        // Per convention: the union of its entries' keys is exactly the declared keys.
        let conventions = Set(entries.map { $0.convention ?? conventionSpec.defaultText })
        for convention in conventions.sorted() {
            let declared = factory.parameters.applying(to: convention)
            let mine = entries.filter { ($0.convention ?? conventionSpec.defaultText) == convention }
            let documented = Set(mine.flatMap(\.keys.keys)).subtracting(Self.chainKeys)
            #expect(documented == Set(declared.map(\.key)), "\(kind), convention \(convention)")
            for spec in declared where !spec.children.isEmpty {
                let nested = Set(mine.flatMap { $0.children[spec.key]?.keys.map { $0 } ?? [] })
                #expect(nested == Set(spec.children.map(\.key)), "\(kind).\(spec.key)")
                for child in spec.children {
                    let text = mine.compactMap { $0.children[spec.key]?[child.key] ?? nil }.first
                    check(text, against: child, at: "\(kind).\(spec.key).\(child.key)")
                }
            }
            // The convention key's default is stated once, in the entry of the default convention.
            for spec in declared {
                check(
                    mine.compactMap { $0.keys[spec.key] ?? nil }.first, against: spec, at: "\(kind).\(spec.key) (\(convention))",
                    required: spec.key != conventionSpec.key)
            }
        }
        let statedConvention = entries.compactMap { $0.keys[conventionSpec.key] ?? nil }.first
        check(statedConvention, against: conventionSpec, at: "\(kind).convention")
    }

    func check(_ text: String?, against spec: ParameterSpec, at place: String, required: Bool = true) {
        guard let text else {
            #expect(!required || spec.defaultValue == .none, "\(place): reference.yaml states no default (declared \(spec.defaultValue))")
            return
        }
        #expect(Self.matches(text, spec.defaultValue), "\(place): reference.yaml says default \(text), declared \(spec.defaultValue)")
    }

    /// The parser itself: a changed reference.yaml layout must not turn this test into a no-op.
    @Test func readsEveryStageEntryOfTheReference() {
        let entries = Self.stageEntries(of: Self.reference)
        #expect(entries.map(\.kind) == ["min_max", "standard_scale", "batch_norm", "batch_norm", "batch_renorm", "batch_norm"])
        #expect(entries.first?.keys["feature_range"] == .some("[0, 1]"))
        #expect(entries[1].keys["with_std"] == .some("true"))
        #expect(entries.last?.keys["momentum"] == .some(nil))
        #expect(entries[4].children["renorm_clipping"].map { Set($0.keys) } == ["rmax", "rmin", "dmax"])
    }
}
