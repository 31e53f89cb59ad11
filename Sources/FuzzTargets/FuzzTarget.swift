/// The fuzz targets: one entry point per decoder of external bytes, shared by the libFuzzer driver
/// (`Fuzz/`, run by `Scripts/fuzz.sh`) and the corpus replay test (`Tests/FuzzCorpusTests`).
///
/// Why one library for both: a crasher found by libFuzzer is replayed by `swift test` through the
/// very same function, so a fix is proven by the ordinary test run, without the sanitizer build.
///
/// Every entry point treats a thrown, typed refusal as success (that is what bad input should get)
/// and checks what a decoder promises about what it accepts; a broken promise is a `fatalError`,
/// which libFuzzer reports as a crash. Each returns whether the input was accepted, so the replay
/// test can check that the seeds reach past the refusals. Each input starts from fresh decoder state, so a crash
/// reproduces from its one input file.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `MessageDecoder` with the `tensor` codec (header frame + payload frame); see ``fuzzTensor(_:)``.
    case tensor
    /// `MessageDecoder` with the `npy` codec (one `.npy` frame); see ``fuzzNpyMessage(_:)``.
    case npy
    /// `MessageDecoder` with the `json` codec (one JSON frame); see ``fuzzJSONMessage(_:)``.
    case json
    /// `Npy.decode`, the `.npy` file reader of `normd apply`; see ``fuzzNpyFile(_:)``.
    case npyFile = "npy_file"
    /// YAML text through `normd validate`'s validation and chain building; see ``fuzzConfig(_:)``.
    case config
    /// `StateFile.decode`, then restore and one train batch; see ``fuzzStateFile(_:)``.
    case state
    /// `SyncMessage.decode`, a sync group member's frames; see ``fuzzSyncMessage(_:)``.
    case sync

    /// Runs one input through this target; `true` when the decoder accepted it.
    @discardableResult
    public func run(_ data: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .tensor: fuzzTensor(data)
        case .npy: fuzzNpyMessage(data)
        case .json: fuzzJSONMessage(data)
        case .npyFile: fuzzNpyFile(data)
        case .config: fuzzConfig(data)
        case .state: fuzzStateFile(data)
        case .sync: fuzzSyncMessage(data)
        }
    }
}

/// Stops the process with a message naming the broken promise (libFuzzer saves the input).
func violated(_ target: FuzzTarget, _ message: @autoclosure () -> String) -> Never {
    fatalError("fuzz target \(target.rawValue): \(message())")
}
