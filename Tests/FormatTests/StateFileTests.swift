import Checkpoint
import Foundation
import NormCore
import StageKit
import Testing

/// A stand-in stage with a settable fingerprint, so state mapping is tested without the real stages.
final class RecordingStage: Stage {
    let kind = "recording"
    let stateVersion: UInt32 = 1
    let featureCount: Int
    let trainingRowMultiple = 1
    var fingerprint: [String: String]
    var mean: [Double]
    var batches: Int64 = 0

    init(featureCount: Int, epsilon: String = "0.001") {
        self.featureCount = featureCount
        self.fingerprint = ["kind": "recording", "epsilon": epsilon]
        self.mean = [Double](repeating: 0, count: featureCount)
    }

    func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        guard mode == .train else { return }
        for column in 0..<featureCount { mean[column] += Double(batch[0, column]) }
        batches += 1
    }

    func saveState() -> StageState {
        StageState(kind: kind, stateVersion: stateVersion, statistics: ["moving_mean": mean], counters: ["num_batches_tracked": batches])
    }

    func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: kind, upTo: stateVersion)
        mean = try state.statistic("moving_mean", count: featureCount)
        batches = try state.counter("num_batches_tracked")
    }
}

@Suite struct StateFileTests {
    private func chain(features: Int = 3, epsilon: String = "0.001") -> StageChain {
        StageChain(
            links: [ChainLink(stage: RecordingStage(featureCount: features, epsilon: epsilon), columns: .all(features))],
            featureCount: features)
    }

    private func trainedDocument() throws -> StateDocument {
        let trained = chain()
        var batch = FeatureBatch(rowsOf: [[0.1, -2.5, 1e6], [1, 2, 3]], features: 3)
        try trained.process(&batch, mode: .train)
        return StateDocument(pipelines: [PipelineStateRecord(name: "sensors", chain: trained)])
    }

    private func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("normd-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func roundTripKeepsEveryValueAndOtherPipelines() throws {
        var document = try trainedDocument()
        document.upsert(PipelineStateRecord(name: "other", features: 1, stages: []))
        let bytes = try StateFile.encode(document)
        #expect(try StateFile.decode(bytes, path: "s.json") == document)
        let restored = chain()
        try #require(document.pipeline(named: "sensors")).restore(into: restored)
        #expect(
            restored.saveState() == [
                StageState(
                    kind: "recording", stateVersion: 1, statistics: ["moving_mean": [0.1, -2.5, 1e6].map { Double(Float($0)) }],
                    counters: ["num_batches_tracked": 1])
            ])
        // Updating one pipeline keeps the other.
        document.upsert(PipelineStateRecord(name: "sensors", chain: chain()))
        #expect(document.pipelines.map(\.name) == ["sensors", "other"])
    }

    @Test func theFileIsPlainJSONWithFrameworkNames() throws {
        let bytes = try StateFile.encode(try trainedDocument())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["format"] as? String == "normd-state")
        #expect(object["format_version"] as? Int == 2)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\"format\":\"normd-state\",\"format_version\":2,\"checksum\":\"crc32:"))
        #expect(text.contains("\"statistics\":{\"moving_mean\":["))
        #expect(text.contains("\"counters\":{\"num_batches_tracked\":1}"))
    }

    @Test func aFlippedDigitIsACheckSumError() throws {
        var text = String(decoding: try StateFile.encode(try trainedDocument()), as: UTF8.self)
        let range = try #require(text.range(of: "1000000"))
        text.replaceSubrange(range, with: "1000001")
        #expect {
            try StateFile.decode(Array(text.utf8), path: "s.json")
        } throws: { error in
            guard case .checksumMismatch(path: "s.json", _, _)? = error as? StateFileError else { return false }
            return true
        }
    }

    @Test func aTruncatedFileIsNotJSON() throws {
        let bytes = try StateFile.encode(try trainedDocument())
        #expect {
            try StateFile.decode(Array(bytes.prefix(bytes.count / 2)), path: "s.json")
        } throws: { error in
            guard case .notJSON(path: "s.json", _)? = error as? StateFileError else { return false }
            return true
        }
    }

    @Test func aNewerFormatVersionIsRefused() throws {
        let text = String(decoding: try StateFile.encode(try trainedDocument()), as: UTF8.self)
            .replacingOccurrences(of: "\"format_version\":2", with: "\"format_version\":3")
        #expect(throws: StateFileError.newerFormatVersion(path: "s.json", version: 3, supported: 2)) {
            try StateFile.decode(Array(text.utf8), path: "s.json")
        }
        #expect(
            StateFileError.newerFormatVersion(path: "s.json", version: 3, supported: 2).description
                == "s.json: written by a newer normd (format 3, this normd reads up to 2); upgrade normd to read it")
    }

    @Test func anotherFormatIsRefused() {
        #expect(throws: StateFileError.wrongFormat(path: "s.json", found: "\"format\": \"other\"")) {
            try StateFile.decode(Array("{\"format\":\"other\"}".utf8), path: "s.json")
        }
    }

    @Test func aFingerprintMismatchIsRefusedWithAWholeMessage() throws {
        let record = try #require(try trainedDocument().pipeline(named: "sensors"))
        let other = chain(epsilon: "1e-05")
        #expect {
            try record.restore(into: other)
        } throws: { error in
            (error as? StateRestoreError)?.description
                == "pipeline 'sensors', stages[0] (recording): saved statistics were computed with different parameters: epsilon is 0.001 in the state file, 1e-05 in the configuration"
        }
        #expect(other.saveState()[0].counters["num_batches_tracked"] == 0, "nothing restored")
    }

    @Test func aDifferentWidthIsRefused() throws {
        let record = try #require(try trainedDocument().pipeline(named: "sensors"))
        #expect(throws: StateRestoreError(pipeline: "sensors", reason: "the state file was written for 3 features, the configuration has 4")) {
            try record.restore(into: chain(features: 4))
        }
    }

    @Test func crcMatchesZlib() {
        // zlib.crc32(b"123456789") == 0xcbf43926, the standard check value.
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.label(0x1) == "crc32:00000001")
    }

    @Test func atomicWriteLeavesOnlyTheTarget() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state.json").path
        try StateFile.write(try trainedDocument(), to: path)
        try StateFile.write(StateDocument(), to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["state.json"])
        #expect(try StateFile.read(path: path) == StateDocument())
        #expect(try StateFile.read(path: directory.appendingPathComponent("absent.json").path) == nil)
    }

    @Test func aFailedAtomicWriteReportsTheStep() {
        #expect(throws: AtomicWriteError.self) {
            try AtomicFileWriter.write([1, 2, 3], to: "/nonexistent-dir/state.json")
        }
    }
}
