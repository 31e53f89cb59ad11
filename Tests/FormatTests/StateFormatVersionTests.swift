import Checkpoint
import Foundation
import NormCore
import StageKit
import Testing

/// State format 2: the checksum covers the stored body bytes; `params`, `mode`, `sync_step`; format 1
/// still read; crafted bodies with a valid checksum refused.
@Suite("State format version 2")
struct StateFormatVersionTests {
    /// Wraps `body` in a format-2 envelope with its correct checksum (what a crafted file looks like).
    static func version2(_ body: String) -> [UInt8] {
        let crc = CRC32.label(CRC32.checksum(Array(body.utf8)))
        return Array("{\"format\":\"normd-state\",\"format_version\":2,\"checksum\":\"\(crc)\",\"body\":\(body)}\n".utf8)
    }

    static func stage(kind: String = "min_max", index: Int = 0, statistics: String = "{}", extra: String = "") -> String {
        "{\"columns\":[0],\"counters\":{},\"fingerprint\":{},\"index\":\(index),\"kind\":\"\(kind)\",\"state_version\":1,\"statistics\":\(statistics)\(extra)}"
    }

    static func pipeline(_ name: String, stages: [String], extra: String = "") -> String {
        "{\"features\":1,\"name\":\"\(name)\",\"stages\":[\(stages.joined(separator: ","))]\(extra)}"
    }

    @Test("a format-1 file written by the previous normd still reads (checksum over the canonical re-encoding)")
    func version1StillReads() throws {
        // Written by normd before format 2 (CRC-32 of Swift JSONEncoder's canonical body).
        let file = """
            {"format":"normd-state","format_version":1,"checksum":"crc32:cf1304a0","body":{"pipelines":[{"features":2,"name":"legacy","stages":[{"columns":[0,1],"counters":{"n_samples_seen":4},"fingerprint":{"convention":"sklearn","featureCount":"2","kind":"min_max"},"index":0,"kind":"min_max","state_version":1,"statistics":{"data_max":[3,4.5],"data_min":[-1,0.25]}}]}]}}

            """
        let document = try StateFile.decode(Array(file.utf8), path: "v1.json")
        let stage = try #require(document.pipeline(named: "legacy")?.stages.first)
        #expect(stage.statistics == ["data_max": [3, 4.5], "data_min": [-1, 0.25]])
        #expect(stage.counters == ["n_samples_seen": 4])
        #expect(stage.params == [:])
        let damaged = file.replacingOccurrences(of: "4.5", with: "4.6")
        #expect(
            throws: StateFileError.checksumMismatch(
                path: "v1.json", stored: "crc32:cf1304a0",
                computed: CRC32.label(
                    CRC32.checksum(
                        Array(
                            "{\"pipelines\":[{\"features\":2,\"name\":\"legacy\",\"stages\":[{\"columns\":[0,1],\"counters\":{\"n_samples_seen\":4},\"fingerprint\":{\"convention\":\"sklearn\",\"featureCount\":\"2\",\"kind\":\"min_max\"},\"index\":0,\"kind\":\"min_max\",\"state_version\":1,\"statistics\":{\"data_max\":[3,4.6],\"data_min\":[-1,0.25]}}]}]}"
                                .utf8))))
        ) {
            try StateFile.decode(Array(damaged.utf8), path: "v1.json")
        }
    }

    @Test("the format-2 checksum covers the body bytes as stored, whatever their formatting")
    func checksumCoversStoredBytes() throws {
        // Whitespace and a number spelled `1.0` that JSONEncoder would write as `1`: a re-encoding
        // checksum would call this damaged; the stored-bytes checksum verifies it.
        let body = "{ \"pipelines\": [" + Self.pipeline("p", stages: [Self.stage(statistics: "{\"data_min\": [1.0], \"data_max\": [2.50]}")]) + "] }"
        let document = try StateFile.decode(Self.version2(body), path: "s.json")
        #expect(document.pipelines.first?.stages.first?.statistics == ["data_min": [1], "data_max": [2.5]])
        var flipped = Self.version2(body)
        let digit = try #require(flipped.lastIndex(of: UInt8(ascii: "5")))
        flipped[digit] = UInt8(ascii: "6")
        #expect {
            try StateFile.decode(flipped, path: "s.json")
        } throws: { error in
            guard case .checksumMismatch(path: "s.json", stored: CRC32.label(CRC32.checksum(Array(body.utf8))), _)? = error as? StateFileError else {
                return false
            }
            return true
        }
    }

    @Test("params, mode and sync_step round-trip; params default to empty, mode and sync_step to absent")
    func optionalFieldsRoundTrip() throws {
        let record = StageStateRecord(
            index: 0, kind: "batch_norm", stateVersion: 1, columns: [0], fingerprint: [:],
            statistics: ["moving_mean": [0.5]], counters: [:],
            params: [
                "momentum": .number(0.99), "gamma": .numbers([2]), "center": .flag(false),
                "virtual_batch_size": .none, "convention": .text("keras"),
            ])
        let document = StateDocument(pipelines: [
            PipelineStateRecord(name: "p", features: 1, stages: [record], mode: .infer, syncStep: 42),
            PipelineStateRecord(name: "q", features: 1, stages: []),
        ])
        let bytes = try StateFile.encode(document)
        #expect(try StateFile.decode(bytes, path: "s.json") == document)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"mode\":\"infer\""))
        #expect(text.contains("\"sync_step\":42"))
        #expect(text.contains("\"params\":{\"center\":false,\"convention\":\"keras\",\"gamma\":[2],\"momentum\":0.99,\"virtual_batch_size\":null}"))
        #expect(text.contains("{\"features\":1,\"name\":\"q\",\"stages\":[]}"), "absent optional fields are not written")
    }

    @Test(
        "crafted bodies with a valid checksum are refused with the location",
        arguments: [
            (
                "{\"pipelines\":[" + pipeline("p", stages: []) + "," + pipeline("p", stages: []) + "]}",
                "at pipelines[1].name: a second pipeline named 'p'"
            ),
            (
                "{\"pipelines\":[" + pipeline("../x", stages: []) + "]}",
                "at pipelines[0].name: pipeline name '../x' must be 1–256 of the characters A-Z a-z 0-9 _ . -"
            ),
            (
                "{\"pipelines\":[" + pipeline("p", stages: [stage(kind: "../k")]) + "]}",
                "at pipelines[0].stages[0].kind: kind '../k' must be 1–256 of the characters A-Z a-z 0-9 _"
            ),
            (
                "{\"pipelines\":[" + pipeline("p", stages: [stage(), stage(index: 0)]) + "]}",
                "at pipelines[0].stages[1].index: is 0, must be its position 1"
            ),
            (
                "{\"pipelines\":[" + pipeline("p", stages: [stage(statistics: "{\"a\\nb\":[1]}")]) + "]}",
                "at pipelines[0].stages[0]: statistic or counter name 'a\\nb' must be 1–256 bytes without control characters"
            ),
            (
                "{\"pipelines\":[" + pipeline("p", stages: [], extra: ",\"mode\":\"turbo\"") + "]}",
                "at pipelines[0].mode: \"mode\" must be \"train\" or \"infer\", got \"turbo\""
            ),
            (
                "{\"pipelines\":[" + pipeline("p", stages: [], extra: ",\"sync_step\":-1") + "]}",
                "at pipelines[0].sync_step: \"sync_step\" must be >= 0, got -1"
            ),
        ])
    func craftedBodiesRefused(body: String, message: String) {
        #expect(throws: StateFileError.malformedBody(path: "s.json", detail: message)) {
            try StateFile.decode(Self.version2(body), path: "s.json")
        }
    }

    @Test("a file whose body is not the envelope's last key is refused as malformed, not mis-verified")
    func bodyNotLast() {
        let file = "{\"format\":\"normd-state\",\"format_version\":2,\"body\":{\"pipelines\":[]},\"checksum\":\"crc32:00000000\"}\n"
        #expect(
            throws: StateFileError.malformedBody(
                path: "s.json",
                detail:
                    "the envelope before \"body\" (which must be its last key): No value associated with key CodingKeys(stringValue: \"checksum\", intValue: nil) (\"checksum\")."
            )
        ) {
            try StateFile.decode(Array(file.utf8), path: "s.json")
        }
        #expect(
            throws: StateFileError.malformedBody(
                path: "s.json", detail: "format 2 needs \"body\" as the envelope's last key, written as ,\"body\":{…}}")
        ) {
            try StateFile.decode(Array("{\"format\":\"normd-state\",\"format_version\":2,\"body\" : {}}".utf8), path: "s.json")
        }
    }

    @Test("refreshing a pipeline's statistics keeps its mode and sync_step")
    func upsertKeepsModeAndSyncStep() {
        var document = StateDocument(pipelines: [PipelineStateRecord(name: "p", features: 1, stages: [], mode: .infer, syncStep: 7)])
        document.upsert(PipelineStateRecord(name: "p", features: 2, stages: []))
        #expect(document.pipelines == [PipelineStateRecord(name: "p", features: 2, stages: [], mode: .infer, syncStep: 7)])
        document.upsert(PipelineStateRecord(name: "p", features: 2, stages: [], mode: .train, syncStep: 8))
        #expect(document.pipelines == [PipelineStateRecord(name: "p", features: 2, stages: [], mode: .train, syncStep: 8)])
    }
}
