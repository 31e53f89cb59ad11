import ArgumentParser
import Checkpoint

/// `normd state export FILE|DIR --format npz|json --output OUT`: the statistics as arrays keyed
/// `<pipeline>/<index>_<kind>/<name>`, for `np.load(OUT)[key]` or `json.load`.
struct StateExportCommand: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case npz, json
    }

    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export the statistics as .npz (NumPy) or a flat JSON object, keyed <pipeline>/<index>_<kind>/<name>.",
        discussion: "Exit codes: 0 ok; 65 damaged or foreign file; 66 no such file or no generation; 73 cannot write OUT."
    )

    @Argument(help: "A state file, a checkpoint generation, or a checkpoint directory (its newest valid generation).")
    var path: String

    @Option(name: .long, help: "npz or json.")
    var format: Format

    @Option(name: .long, help: "The file to write (atomically).")
    var output: String

    func run() throws {
        do {
            try export()
        } catch {
            StandardError.print("normd state export: \(error.message)")
            throw error.status
        }
    }

    private func export() throws(CommandFailure) {
        // Written by an atomic rename, which would replace a device, FIFO or symbolic link silently.
        try OutputTarget.check(output, option: "--output")
        let (document, _) = try StateSource.load(path)
        let bytes: [UInt8]
        switch format {
        case .npz:
            do { bytes = try StateExport.npz(document) } catch { throw CommandFailure(ExitStatus.dataError, error.description) }
        case .json:
            do { bytes = try StateExport.json(document) } catch { throw CommandFailure(ExitStatus.dataError, error.description) }
        }
        try OutputTarget.check(output, option: "--output") // again: the path may have changed meanwhile
        do {
            try AtomicFileWriter.write(bytes, to: output)
        } catch {
            throw CommandFailure(ExitStatus.cannotCreate, "\(output): cannot write: \(error)")
        }
    }
}
