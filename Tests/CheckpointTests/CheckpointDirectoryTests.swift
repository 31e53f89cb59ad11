import Checkpoint
import Foundation
import Testing

/// Generation files: naming, pruning, fallback past a damaged newest file, crash leftovers.
@Suite struct CheckpointDirectoryTests {
    @Test func namesSortLikeNumbers() {
        #expect(CheckpointDirectory.fileName(generation: 42) == "normd-state-00000042.json")
        #expect(CheckpointDirectory.fileName(generation: 123_456_789) == "normd-state-123456789.json")
        #expect(CheckpointDirectory.generationNumber(inFileName: "normd-state-00000042.json") == 42)
        #expect(CheckpointDirectory.generationNumber(inFileName: ".normd-state-00000042.json.tmp-AbC123") == nil)
        #expect(CheckpointDirectory.generationNumber(inFileName: "normd-state-.json") == nil)
    }

    @Test func pruningKeepsTheNewestGenerationsAndNoTemporaryFiles() throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        for generation in 1...5 {
            try directory.write(try Fixtures.document(batches: generation), generation: UInt64(generation))
        }
        let deleted = directory.prune(keep: 3)
        #expect(deleted.map { URL(fileURLWithPath: $0).lastPathComponent } == ["normd-state-00000001.json", "normd-state-00000002.json"])
        #expect(try temporary.contents() == ["normd-state-00000003.json", "normd-state-00000004.json", "normd-state-00000005.json"])
        let loaded = try #require(try directory.loadNewestValid())
        #expect(loaded.generation.number == 5)
        #expect(loaded.document == (try Fixtures.document(batches: 5)))
        #expect(loaded.skipped.isEmpty)
    }

    @Test func aTruncatedNewestGenerationFallsBackToThePreviousOne() throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        try directory.write(try Fixtures.document(batches: 1), generation: 1)
        let newest = try directory.write(try Fixtures.document(batches: 2), generation: 2)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest.path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest.path))

        let loaded = try #require(try directory.loadNewestValid())
        #expect(loaded.generation.number == 1)
        #expect(loaded.document == (try Fixtures.document(batches: 1)))
        #expect(loaded.skipped.count == 1)
        guard case .notJSON(let path, _)? = loaded.skipped.first else {
            Issue.record("expected notJSON, got \(loaded.skipped)")
            return
        }
        #expect(path == newest.path)
    }

    @Test func whenNoGenerationReadsLoadingIsRefused() throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        try "{}".write(toFile: temporary.path + "/normd-state-00000007.json", atomically: true, encoding: .utf8)
        #expect(
            throws: CheckpointError.noValidGeneration(
                directory: temporary.path,
                failures: [
                    .wrongFormat(path: temporary.path + "/normd-state-00000007.json", found: "no \"format\" key")
                ])
        ) { try directory.loadNewestValid() }
    }

    @Test func anEmptyDirectoryIsAFirstStart() throws {
        let temporary = try TemporaryDirectory()
        #expect(try CheckpointDirectory(path: temporary.path).loadNewestValid() == nil)
    }

    @Test func leftoversOfAnInterruptedWriteAreRemoved() throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        try directory.write(try Fixtures.document(batches: 1), generation: 1)
        try "partial".write(toFile: temporary.path + "/.normd-state-00000002.json.tmp-Xy12Ab", atomically: false, encoding: .utf8)
        try "keep me".write(toFile: temporary.path + "/notes.txt", atomically: false, encoding: .utf8)
        #expect(directory.removeTemporaryFiles() == [temporary.path + "/.normd-state-00000002.json.tmp-Xy12Ab"])
        #expect(try temporary.contents() == ["normd-state-00000001.json", "notes.txt"])
    }

    @Test func aFileWhereTheDirectoryShouldBeIsRefused() throws {
        let temporary = try TemporaryDirectory()
        try "x".write(toFile: temporary.path + "/file", atomically: true, encoding: .utf8)
        #expect(throws: CheckpointError.unusableDirectory(path: temporary.path + "/file", reason: "it is not a directory")) {
            try CheckpointDirectory(path: temporary.path + "/file").create()
        }
    }
}
