import ArgumentParser
import Checkpoint

/// `normd state show FILE|DIR`: a human-readable table per pipeline and stage.
struct StateShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print every pipeline's statistics as tables (per feature), with the counters.",
        discussion: "Exit codes: 0 ok; 65 damaged or foreign file (or no readable generation); 66 no such file or no generation."
    )

    @Argument(help: "A state file, a checkpoint generation, or a checkpoint directory (its newest valid generation).")
    var path: String

    func run() throws {
        do {
            let (document, file) = try StateSource.load(path)
            print(StateTable.render(document, file: file), terminator: "")
        } catch {
            StandardError.print("normd state show: \(error.message)")
            throw error.status
        }
    }
}
