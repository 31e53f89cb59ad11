import Foundation
import NormCore
import NpyFormat

/// Reads `normd apply`'s input: a 2-D `.npy` of finite values whose rows have the pipeline's width.
enum InputFile {
    static func read(_ path: String, features: Int) throws(CommandFailure) -> FeatureBatch {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure(ExitStatus.noInput, "\(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure(ExitStatus.noInput, "\(path): cannot read the file")
        }
        let batch: FeatureBatch
        do {
            batch = try data.withUnsafeBytes { (bytes) throws(NpyError) in
                try Npy.decode(bytes, rank: .twoDimensional, features: features)
            }
        } catch {
            throw CommandFailure(ExitStatus.dataError, "\(path): \(error)")
        }
        // Checked over the whole file up front so the message names the row in the file, not in a batch.
        if let bad = batch.firstNonFinite() {
            throw CommandFailure(ExitStatus.dataError, "\(path): non-finite value \(bad.value) at row \(bad.row), column \(bad.column) (0-based)")
        }
        return batch
    }
}
