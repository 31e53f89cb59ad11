import NormConfig
import StageKit
import Testing

/// The YAML → ConfigNode conversion: scalar resolution and locations.
@Suite struct YAMLLoaderTests {
    private func root(_ yaml: String) throws -> ConfigNode {
        let diagnostics = ConfigDiagnostics()
        let node = YAMLConfigLoader.parse(yaml, file: "t.yaml", diagnostics: diagnostics)
        #expect(diagnostics.issues.isEmpty)
        return try #require(node)
    }

    @Test func tildeNullAndEmptyAreNullWhileAbsentIsAbsent() throws {
        let node = try root("a: ~\nb: null\nc:\nd: 1\n")
        for key in ["a", "b", "c"] {
            let value = try #require(node.entry(key)?.value)
            #expect(value.isNull, "\(key) should be .null")
        }
        #expect(node.entry("e") == nil)
        let reader = ParameterReader(node: node, path: .root, diagnostics: ConfigDiagnostics())
        #expect(reader.isExplicitNull("b"))
        #expect(!reader.isExplicitNull("e"))
    }

    @Test func scalarsResolveToTypedValues() throws {
        let node = try root("i: 42\nf: 1.0e-5\ng: 1e-3\nt: true\ns: hello\nq: \"42\"\nd: 2024-01-01\n")
        func value(_ key: String) -> ConfigValue? { node.entry(key)?.value.value }
        guard case .int(42)? = value("i") else { Issue.record("i: \(String(describing: value("i")))"); return }
        guard case .double(let f)? = value("f"), f == 1e-5 else { Issue.record("f"); return }
        guard case .double(let g)? = value("g"), g == 1e-3 else { Issue.record("g"); return }
        guard case .bool(true)? = value("t") else { Issue.record("t"); return }
        guard case .string("hello")? = value("s") else { Issue.record("s"); return }
        guard case .string("42")? = value("q") else { Issue.record("quoted numbers stay strings"); return }
        guard case .string("2024-01-01")? = value("d") else { Issue.record("dates stay strings"); return }
        #expect(node.entry("f")?.value.quoted == "1.0e-5")
    }

    @Test func locationsAreOneBased() throws {
        let node = try root("top:\n  inner: [1, 2]\n")
        let inner = try #require(node.entry("top")?.value.entry("inner"))
        #expect(inner.keyLocation == SourceLocation(file: "t.yaml", line: 2, column: 3))
        #expect(inner.value.listItems?[1].location == SourceLocation(file: "t.yaml", line: 2, column: 14))
    }

    @Test func durations() {
        #expect(DurationText.parse("50ms") == .milliseconds(50))
        #expect(DurationText.parse("500us") == .microseconds(500))
        #expect(DurationText.parse("2s") == .seconds(2))
        #expect(DurationText.parse("0.25") == .milliseconds(250))
        #expect(DurationText.parse("1m") == .seconds(60))
        #expect(DurationText.parse("soon") == nil)
    }
}
