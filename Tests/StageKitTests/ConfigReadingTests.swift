import StageKit
import Testing

/// Builds config trees by hand, with locations, the way the YAML loader does.
func node(_ value: ConfigValue, line: Int, column: Int, text: String? = nil) -> ConfigNode {
    ConfigNode(value, location: SourceLocation(file: "cfg.yaml", line: line, column: column), sourceText: text)
}

func map(_ entries: [(String, ConfigNode)], line: Int = 1) -> ConfigNode {
    node(
        .map(
            entries.map {
                ConfigEntry(key: $0.0, keyLocation: SourceLocation(file: "cfg.yaml", line: $0.1.location?.line ?? line, column: 3), value: $0.1)
            }), line: line, column: 1)
}

@Suite("Reading configuration")
struct ConfigReadingTests {
    @Test("paths print the way users read them")
    func pathDescription() {
        let path = ConfigPath.root.appending("pipelines").appending(index: 0).appending("stages").appending(index: 2).appending("renorm_clipping")
            .appending("rmax")
        #expect(path.description == "pipelines[0].stages[2].renorm_clipping.rmax")
    }

    @Test("every problem is collected, located, and quoted as written")
    func collectsEveryProblem() {
        let diagnostics = ConfigDiagnostics()
        let reader = ParameterReader(
            node: map([
                ("momentun", node(.double(0.9), line: 2, column: 13, text: "0.9")),
                ("epsilon", node(.int(-1), line: 3, column: 12, text: "-1")),
                ("center", node(.string("yes"), line: 4, column: 11, text: "yes")),
            ]), path: ConfigPath.root.appending("stages").appending(index: 0), diagnostics: diagnostics)
        _ = reader.double("momentum", default: 0.99)
        let epsilon = reader.double("epsilon", default: 1e-3)
        reader.require("epsilon", epsilon > 0, "must be > 0")
        _ = reader.bool("center", default: true)
        reader.finish()
        #expect(
            diagnostics.issues.map(\.description) == [
                "cfg.yaml:3:12: stages[0].epsilon: must be > 0, got -1",
                "cfg.yaml:4:11: stages[0].center: expected true or false, got a string yes",
                "cfg.yaml:2:3: stages[0].momentun: unknown key 'momentun'; did you mean 'momentum'?",
            ])
    }

    @Test("an explicit null differs from an absent key")
    func explicitNull() {
        let diagnostics = ConfigDiagnostics()
        let reader = ParameterReader(node: map([("momentum", node(.null, line: 2, column: 13))]), path: .root, diagnostics: diagnostics)
        #expect(reader.isExplicitNull("momentum"))
        #expect(!reader.isExplicitNull("eps"))
        #expect(reader.optionalDouble("momentum") == nil)
        #expect(diagnostics.issues.isEmpty)
    }

    @Test("columns take indices and Python slices, negatives from the end")
    func columns() {
        let diagnostics = ConfigDiagnostics()
        let reader = ParameterReader(
            node: map([
                (
                    "columns",
                    node(
                        .list([
                            node(.int(0), line: 2, column: 12), node(.string("3:5"), line: 2, column: 15), node(.string("-2:"), line: 2, column: 22),
                        ]), line: 2, column: 11)
                )
            ]), path: .root, diagnostics: diagnostics)
        let selection = ColumnSelection.read(from: reader, rowWidth: 10)
        #expect(selection?.indices == [0, 3, 4, 8, 9])
        #expect(selection?.runs == [0..<1, 3..<5, 8..<10])
        #expect(diagnostics.issues.isEmpty)
    }

    @Test("bad column selections are reported per item")
    func badColumns() {
        let diagnostics = ConfigDiagnostics()
        let reader = ParameterReader(
            node: map([
                (
                    "columns",
                    node(
                        .list([
                            node(.int(12), line: 2, column: 12), node(.string("a:b"), line: 2, column: 16), node(.int(1), line: 2, column: 23),
                            node(.string("0:2"), line: 2, column: 26),
                        ]), line: 2, column: 11)
                )
            ]), path: ConfigPath.root.appending("stages").appending(index: 1), diagnostics: diagnostics)
        #expect(ColumnSelection.read(from: reader, rowWidth: 4) == nil)
        #expect(
            diagnostics.issues.map(\.description) == [
                "cfg.yaml:2:12: stages[1].columns[0]: column 12 is outside a row of 4 features",
                "cfg.yaml:2:16: stages[1].columns[1]: expected a column index or a slice like \"2:5\" (start included, stop excluded), got \"a:b\"",
                "cfg.yaml:2:26: stages[1].columns[3]: column 1 is selected twice",
            ])
    }

    @Test("nearest key suggestions stay close")
    func suggestions() {
        #expect(nearestKey(to: "epsilom", among: ["epsilon", "eps", "momentum"]) == "epsilon")
        #expect(nearestKey(to: "zzzzzz", among: ["epsilon", "momentum"]) == nil)
    }
}
