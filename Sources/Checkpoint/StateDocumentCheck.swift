/// Checks what a state file's body says beyond its JSON shape, so a crafted file with a valid
/// checksum (the checksum detects damage, not forgery) cannot make a reader misbehave: names that
/// become `.npz` member names and log fields, duplicates that make "the pipeline named p" ambiguous,
/// stage positions that disagree with the list.
enum StateDocumentCheck {
    /// Characters of a pipeline name, as the configuration allows them (`PipelineConfiguration`).
    static let pipelineNameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
    /// Characters of a stage kind: built-in kinds and plugin kinds are identifiers.
    static let kindCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
    /// Longest name accepted (pipeline, kind, statistic, counter), in bytes.
    static let maxNameBytes = 256

    static func validate(_ document: StateDocument, path: String) throws(StateFileError) {
        var seen = Set<String>()
        for (p, pipeline) in document.pipelines.enumerated() {
            func refuse(_ location: String, _ message: String) -> StateFileError {
                .malformedBody(path: path, detail: "at pipelines[\(p)]\(location): \(message)")
            }
            guard isName(pipeline.name, characters: pipelineNameCharacters) else {
                throw refuse(".name", "pipeline name \(quoted(pipeline.name)) must be 1–\(maxNameBytes) of the characters A-Z a-z 0-9 _ . -")
            }
            guard seen.insert(pipeline.name).inserted else {
                throw refuse(".name", "a second pipeline named '\(pipeline.name)'")
            }
            guard pipeline.features >= 1 else { throw refuse(".features", "must be >= 1, got \(pipeline.features)") }
            for (s, stage) in pipeline.stages.enumerated() {
                guard stage.index == s else { throw refuse(".stages[\(s)].index", "is \(stage.index), must be its position \(s)") }
                guard isName(stage.kind, characters: kindCharacters) else {
                    throw refuse(".stages[\(s)].kind", "kind \(quoted(stage.kind)) must be 1–\(maxNameBytes) of the characters A-Z a-z 0-9 _")
                }
                guard stage.columns.allSatisfy({ (0..<pipeline.features).contains($0) }) else {
                    throw refuse(".stages[\(s)].columns", "a column is outside 0..<\(pipeline.features)")
                }
                for name in Array(stage.statistics.keys) + Array(stage.counters.keys) where !isPrintable(name) {
                    throw refuse(
                        ".stages[\(s)]", "statistic or counter name \(quoted(name)) must be 1–\(maxNameBytes) bytes without control characters")
                }
            }
        }
    }

    static func isName(_ name: String, characters: Set<Character>) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameBytes && name.allSatisfy(characters.contains)
    }

    static func isPrintable(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameBytes && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// `name` for a message: at most 64 characters, control characters escaped.
    static func quoted(_ name: String) -> String {
        let escaped = name.unicodeScalars.prefix(64).map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }
            .joined()
        return "'" + escaped + (name.unicodeScalars.count > 64 ? "…" : "") + "'"
    }
}
