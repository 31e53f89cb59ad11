import Foundation
import NormTesting
import Testing

/// `normd apply` with hostile files: a `.npy` header claiming an impossible shape, and an
/// `--output`/`--state` that is not a regular file.
@Suite struct ApplyLimitsTests {
    private static let config = Normd.repositoryRoot.appendingPathComponent("Config/normd.yaml").path

    private func apply(in scratch: ScratchDirectory, output: String = "out.npy", state: String? = nil) throws -> Normd.Result {
        try BoundedNormd.run(
            ["apply", "--config", Self.config, "--mode", "train", "--input", "in.npy", "--output", output]
                + (state.map { ["--state", $0] } ?? []), in: scratch.url)
    }

    private func writeInput(_ scratch: ScratchDirectory) throws {
        try NpyFixture.writeFloat32((0..<4).map { row in (0..<8).map { Float(row * 8 + $0) } }, columns: 8, to: scratch.path("in.npy"))
    }

    /// (2^61, 8) float32 is 2^66 bytes: the size computation trapped; the daemon's codec refused it.
    @Test func aShapeWhoseSizeOverflowsIsBadData() throws {
        let scratch = try ScratchDirectory()
        try NpyFixture.write(descr: "<f4", shape: "(2305843009213693952, 8)", payload: Data(count: 64), to: scratch.path("in.npy"))
        let result = try apply(in: scratch)
        #expect(result.status == 65)
        #expect(
            result.stderrLines == [
                "normd apply: in.npy: the header's shape (2305843009213693952, 8) needs more than 9223372036854775807 bytes of data; the file has 64"
            ])
        #expect(try scratch.contents() == ["in.npy"])
    }

    /// A character device: as root, the atomic rename replaced `/dev/full` with a regular file.
    /// The test makes its own device node (the same as /dev/full) so a regression cannot damage
    /// the machine's; without root it cannot, and uses /dev/full, which it then cannot replace.
    @Test func aDeviceNodeIsRefused() throws {
        let scratch = try ScratchDirectory()
        try writeInput(scratch)
        let device = getuid() == 0 ? scratch.path("full") : "/dev/full"
        if getuid() == 0 { #expect(mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 7)) == 0) } // makedev(1, 7): /dev/full
        let result = try apply(in: scratch, output: device)
        #expect(result.status == 73)
        #expect(
            result.stderrLines == [
                "normd apply: \(device): is a character device; --output must be a regular file or a new path (it is replaced by an atomic rename)"
            ])
        #expect(try fileType(device) == S_IFCHR)
    }

    @Test func aFIFOIsRefused() throws {
        let scratch = try ScratchDirectory()
        try writeInput(scratch)
        #expect(mkfifo(scratch.path("out.fifo"), 0o644) == 0)
        let result = try apply(in: scratch, output: "out.fifo")
        #expect(result.status == 73)
        #expect(
            result.stderrLines == [
                "normd apply: out.fifo: is a FIFO; --output must be a regular file or a new path (it is replaced by an atomic rename)"
            ])
        #expect(try fileType(scratch.path("out.fifo")) == S_IFIFO)
    }

    /// A symbolic link would have been replaced by a regular file, leaving its target stale.
    @Test func aSymbolicLinkIsRefusedAndItsTargetLeftAlone() throws {
        let scratch = try ScratchDirectory()
        try writeInput(scratch)
        _ = try scratch.write("old", to: "target.npy")
        try FileManager.default.createSymbolicLink(atPath: scratch.path("link.npy"), withDestinationPath: "target.npy")
        let result = try apply(in: scratch, output: "link.npy")
        #expect(result.status == 73)
        #expect(
            result.stderrLines == [
                "normd apply: link.npy: is a symbolic link; --output must be a regular file or a new path (it is replaced by an atomic rename)"
            ])
        #expect(try fileType(scratch.path("link.npy")) == S_IFLNK)
        #expect(try String(contentsOfFile: scratch.path("target.npy"), encoding: .utf8) == "old")
    }

    /// The state file is written the same way, so `--state` is held to the same rule.
    @Test func aStateFileThatIsAFIFOIsRefusedBeforeAnythingIsWritten() throws {
        let scratch = try ScratchDirectory()
        try writeInput(scratch)
        #expect(mkfifo(scratch.path("state.fifo"), 0o644) == 0)
        let result = try apply(in: scratch, state: "state.fifo")
        #expect(result.status == 73)
        #expect(
            result.stderrLines == [
                "normd apply: state.fifo: is a FIFO; --state must be a regular file or a new path (it is replaced by an atomic rename)"
            ])
        #expect(try scratch.contents() == ["in.npy", "state.fifo"])
    }

    /// `normd state export --output` writes through the same atomic rename: a FIFO (or a device,
    /// a symbolic link) was silently replaced by a regular file.
    @Test func aStateExportToAFIFOIsRefusedAndTheFIFOLeftAlone() throws {
        let scratch = try ScratchDirectory()
        try writeInput(scratch)
        let trained = try apply(in: scratch, state: "state.json")
        try #require(trained.status == 0, "\(trained.stderr)")
        #expect(mkfifo(scratch.path("stats.fifo"), 0o644) == 0)
        let result = try BoundedNormd.run(["state", "export", "state.json", "--format", "npz", "--output", "stats.fifo"], in: scratch.url)
        #expect(result.status == 73)
        #expect(
            result.stderrLines == [
                "normd state export: stats.fifo: is a FIFO; --output must be a regular file or a new path (it is replaced by an atomic rename)"
            ])
        #expect(try fileType(scratch.path("stats.fifo")) == S_IFIFO)
    }

    /// The input is read whole into memory, so an endless one (a device, a FIFO) is refused
    /// before reading, saying why (Foundation used to give up with "cannot read the file").
    @Test func anInputThatIsNotARegularFileIsRefused() throws {
        let scratch = try ScratchDirectory()
        let result = try BoundedNormd.run(["apply", "--config", Self.config, "--input", "/dev/zero", "--output", "out.npy"], in: scratch.url)
        #expect(result.status == 66)
        #expect(result.stderrLines == ["normd apply: /dev/zero: is a character device; --input must be a regular .npy file"])
        #expect(try scratch.contents() == [])
    }

    /// An existing regular file is still replaced, as before.
    @Test func anExistingRegularFileIsReplaced() throws {
        let scratch = try ScratchDirectory()
        try writeInput(scratch)
        _ = try scratch.write("old", to: "out.npy")
        let result = try apply(in: scratch)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try NpyFixture.readFloat32(scratch.path("out.npy")).rows == 4)
    }

    private func fileType(_ path: String) throws -> mode_t {
        var info = stat()
        try #require(lstat(path, &info) == 0, "lstat \(path)")
        return info.st_mode & S_IFMT
    }
}
