import BuiltinStages
import NormConfig
import StageKit

/// Validates the bytes as a configuration file, exactly as `normd validate` does for a file without
/// `plugins:` (the built-in stage registry), then builds every valid pipeline's chain from the
/// resolved plan as `normd run` and `normd apply` would: what `validate` accepts must not crash the
/// commands that use it.
///
/// `plugins:` entries are not loaded (that would `dlopen` paths the fuzzer invents); the key is
/// accepted and ignored by validation, as it is when the caller loads plugins separately.
/// Bytes that are not UTF-8 are refused before YAML, as `YAMLConfigLoader.load(file:)` does.
@discardableResult
public func fuzzConfig(_ data: UnsafeRawBufferPointer) -> Bool {
    guard let text = String(validating: data, as: UTF8.self) else { return false }
    let result = NormdConfiguration.validate(yaml: text, file: "fuzz.yaml", registry: builtinRegistry)
    for issue in result.issues where issue.description.isEmpty {
        violated(.config, "an issue without a message")
    }
    guard let configuration = result.configuration else {
        guard !result.errors.isEmpty else { violated(.config, "refused without an error") }
        return false
    }
    // Twice: the first chain takes the stages validation created, the second creates fresh ones
    // from the parsed parameters (as a second run from the same plan, or a reload, would).
    for pipeline in configuration.pipelines {
        for _ in 0..<2 {
            do throws(StageError) {
                _ = try pipeline.makeChain()
            } catch {
                violated(.config, "validate accepted pipeline '\(pipeline.name)' but its chain does not build: \(error)")
            }
        }
    }
    return true
}

/// Built once: the registry holds only factories, no state that one input could leave for the next.
private let builtinRegistry = BuiltinStages.registry()
