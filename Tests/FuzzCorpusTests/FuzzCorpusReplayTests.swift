import Foundation
import FuzzTargets
import Testing

/// Replays every committed fuzz input (Tests/FuzzCorpus/TARGET: seeds, and crashers/ — the
/// regression inputs of fixed crashes) through the same entry point libFuzzer calls. A crash here is
/// a regression. `crashers/pending/` holds crashes whose fix is not merged yet; they are not replayed
/// (Docs/RELIABILITY.md, "Fuzzing", lists them).
struct FuzzCorpusReplayTests {
    @Test("a committed fuzz input runs through its target without a crash", arguments: CorpusFile.all)
    func replay(_ file: CorpusFile) throws {
        let bytes = try Data(contentsOf: file.url)
        bytes.withUnsafeBytes { _ = file.target.run($0) }
    }

    /// A seed corpus that never gets past the refusals would leave the fuzzer at the decoders' doors.
    @Test("every target has seeds it accepts and seeds it refuses", arguments: FuzzTarget.allCases)
    func seedsReachBothOutcomes(_ target: FuzzTarget) throws {
        let seeds = CorpusFile.all.filter { $0.target == target && $0.url.lastPathComponent.hasPrefix("seed-") }
        let outcomes = try seeds.map { seed in try Data(contentsOf: seed.url).withUnsafeBytes { target.run($0) } }
        #expect(seeds.count >= 3)
        #expect(outcomes.contains(true))
        #expect(outcomes.contains(false))
    }

    /// The state target restores into the pipeline of Tests/FuzzCorpus/state.yaml, which wrote its seeds.
    @Test func stateSeedsWereWrittenForTheTargetsPipeline() throws {
        let text = try String(contentsOf: CorpusFile.root.appendingPathComponent("state.yaml"), encoding: .utf8)
        #expect(text == statePipelineYAML)
    }

    /// Known seeds get the outcome they were written for, so a decoder that refused everything (or
    /// accepted everything) could not pass.
    @Test(arguments: [
        ("tensor/seed-f32-rows", true), ("tensor/seed-empty", true), ("tensor/seed-topic", true),
        ("tensor/seed-short-payload", false), ("tensor/seed-big-endian", false), ("tensor/seed-extra-frame", false),
        ("npy/seed-f32-rows", true), ("npy/seed-topic-v2", true), ("npy/seed-fortran", false), ("npy/seed-truncated", false),
        ("json/seed-object", true), ("json/seed-non-finite", true), ("json/seed-escapes", true), ("json/seed-deep", true),
        ("json/seed-wrong-width", false),
        ("npy_file/seed-f64", true), ("npy_file/seed-v3", true), ("npy_file/seed-int", false),
        ("config/seed-normd.yaml", true), ("config/seed-reference.yaml", true), ("config/seed-invalid.yaml", false),
        ("state/seed-apply-2.json", true), ("state/seed-bad-checksum.json", false), ("state/seed-newer.json", false),
        ("sync/seed-contribution-stage0", true), ("sync/seed-result-stage2", true), ("sync/seed-snapshot", true),
        ("sync/seed-refused", true), ("sync/seed-truncated", false), ("sync/seed-trailing-byte", false),
        ("sync/seed-unknown-kind", false),
    ])
    func seedOutcome(_ name: String, accepted: Bool) throws {
        let file = try #require(CorpusFile.all.first { $0.description == name })
        let result = try Data(contentsOf: file.url).withUnsafeBytes { file.target.run($0) }
        #expect(result == accepted)
    }
}

/// One file of Tests/FuzzCorpus/TARGET (recursively, except `crashers/pending`).
struct CorpusFile: Sendable, CustomTestStringConvertible, CustomStringConvertible {
    let target: FuzzTarget
    let url: URL

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus")

    static let all: [CorpusFile] = FuzzTarget.allCases.flatMap { target -> [CorpusFile] in
        let folder = root.appendingPathComponent(target.rawValue)
        let files =
            FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])?
            .compactMap { $0 as? URL } ?? []
        return
            files
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .filter { !$0.path.contains("/crashers/pending/") }
            .map { CorpusFile(target: target, url: $0) }
            .sorted { $0.url.path < $1.url.path }
    }

    /// `TARGET/path inside it`, e.g. `tensor/crashers/…`.
    var description: String {
        target.rawValue + "/" + url.path.dropFirst(Self.root.appendingPathComponent(target.rawValue).path.count + 1)
    }

    var testDescription: String { description }
}
