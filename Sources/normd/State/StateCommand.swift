import ArgumentParser
import Checkpoint
import Foundation

/// `normd state`: read a state file or checkpoint without running anything.
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show or export saved statistics (a state file, a checkpoint generation, or a checkpoint directory).",
        subcommands: [StateShowCommand.self, StateExportCommand.self]
    )
}

/// Loads a state file, or the newest valid generation of a checkpoint directory.
enum StateSource {
    static func load(_ path: String) throws(CommandFailure) -> (document: StateDocument, file: String) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let directory = CheckpointDirectory(path: path)
            let loaded: CheckpointDirectory.Loaded?
            do {
                for ignored in try directory.listing().ignored { StandardError.print("normd state: ignored \(ignored)") }
                loaded = try directory.loadNewestValid()
            } catch {
                throw CommandFailure(ExitStatus.dataError, error.description)
            }
            guard let loaded else {
                throw CommandFailure(ExitStatus.noInput, "\(path): no checkpoint generation (normd-state-*.json) in this directory")
            }
            for skipped in loaded.skipped { StandardError.print("normd state: skipped \(skipped)") }
            return (loaded.document, loaded.generation.path)
        }
        let document: StateDocument?
        do {
            document = try StateFile.read(path: path)
        } catch {
            throw CommandFailure(ExitStatus.dataError, error.description)
        }
        guard let document else { throw CommandFailure(ExitStatus.noInput, "\(path): no such file") }
        return (document, path)
    }
}
