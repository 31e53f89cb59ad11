import Checkpoint
import Foundation
import Logging
import Pipeline
import StageKit
import Testing

/// Generation numbers from file names never trap, absurd names are skipped and reported, the next
/// number never overflows, and a directory that cannot be listed is an error.
@Suite struct GenerationNumberTests {
    @Test(
        "file names classify without trapping",
        arguments: [
            ("normd-state-00000042.json", CheckpointDirectory.Entry.generation(42)),
            ("normd-state-999999999999.json", .generation(999_999_999_999)),
            ("normd-state-0000000000000000000000000007.json", .generation(7)),
            ("normd-state-1000000000000.json", .ignored(reason: "generation number above 999999999999, which normd never writes")),
            ("normd-state-18446744073709551615.json", .ignored(reason: "generation number above 999999999999, which normd never writes")),
            ("normd-state-18446744073709551616.json", .ignored(reason: "generation number above 999999999999, which normd never writes")),
            (
                "normd-state-\(String(repeating: "9", count: 5000)).json",
                .ignored(reason: "generation number above 999999999999, which normd never writes")
            ),
            ("normd-state-12a.json", .ignored(reason: "not a generation number (normd names generations normd-state-<digits>.json)")),
            ("normd-state-٣.json", .ignored(reason: "not a generation number (normd names generations normd-state-<digits>.json)")),
            ("normd-state-.json", .ignored(reason: "not a generation number (normd names generations normd-state-<digits>.json)")),
            ("normd-state-.json.json", .ignored(reason: "not a generation number (normd names generations normd-state-<digits>.json)")),
            ("normd-state-json", .unrelated),
            (".normd-state-00000042.json.tmp-AbC123", .unrelated),
            ("notes.txt", .unrelated),
        ])
    func classify(name: String, expected: CheckpointDirectory.Entry) {
        #expect(CheckpointDirectory.entry(forFileName: name) == expected)
    }

    @Test func absurdNamesAreListedAsIgnoredAndTheNextGenerationFollowsTheRealOnes() throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        try directory.write(try Fixtures.document(batches: 1), generation: 3)
        for name in ["normd-state-18446744073709551615.json", "normd-state-x.json"] {
            #expect(FileManager.default.createFile(atPath: temporary.path + "/" + name, contents: Data("{}".utf8)))
        }
        let listing = try directory.listing()
        #expect(listing.generations.map(\.number) == [3])
        #expect(
            listing.ignored.map(\.description) == [
                temporary.path + "/normd-state-18446744073709551615.json: generation number above 999999999999, which normd never writes",
                temporary.path + "/normd-state-x.json: not a generation number (normd names generations normd-state-<digits>.json)",
            ])
        #expect(try listing.nextGeneration() == 4)
        #expect(try directory.loadNewestValid()?.generation.number == 3)
    }

    @Test func atTheHighestGenerationNoFurtherOneIsWritten() throws {
        let temporary = try TemporaryDirectory()
        let directory = CheckpointDirectory(path: temporary.path)
        let highest = CheckpointDirectory.maxGeneration
        try directory.write(try Fixtures.document(batches: 1), generation: highest)
        let exhausted = CheckpointError.generationsExhausted(path: temporary.path + "/normd-state-999999999999.json")
        #expect(throws: exhausted) { try directory.listing().nextGeneration() }
        #expect(throws: exhausted) { try directory.write(try Fixtures.document(batches: 1), generation: highest + 1) }
        #expect(
            exhausted.description == temporary.path
                + "/normd-state-999999999999.json: generation numbers are exhausted (999999999999 is the highest normd writes); "
                + "move the generations elsewhere and rename the newest one to normd-state-00000001.json to continue from it")
        #expect(try temporary.contents() == ["normd-state-999999999999.json"])
    }

    @Test func aWriterAtTheHighestGenerationWritesItThenFailsWithoutTrapping() async throws {
        let temporary = try TemporaryDirectory()
        let writer = CheckpointWriter(
            directory: CheckpointDirectory(path: temporary.path), keep: 3,
            document: try Fixtures.document(batches: 1), nextGeneration: CheckpointDirectory.maxGeneration,
            writeAtFinish: true, logger: Logger(label: "test"))
        writer.start()
        let chain = try Fixtures.trainedChain("p", batches: 2)
        writer.offer(StateSnapshot(pipeline: "p", states: chain.saveState(), statsVersion: 2))
        try await Task.sleep(for: .milliseconds(300))
        writer.offer(StateSnapshot(pipeline: "p", states: chain.saveState(), statsVersion: 3))
        await writer.finish()
        #expect(try temporary.contents() == ["normd-state-999999999999.json"])
    }

    @Test func aDirectoryThatCannotBeListedIsAnErrorNotAFirstStart() throws {
        let temporary = try TemporaryDirectory()
        let file = temporary.path + "/not-a-directory"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let directory = CheckpointDirectory(path: file)
        #expect {
            try directory.loadNewestValid()
        } throws: { error in
            guard case .unlistable(path: file, _)? = error as? CheckpointError else { return false }
            return (error as? CheckpointError)?.description.hasPrefix(file + ": cannot list the checkpoint directory: ") == true
        }
    }
}
