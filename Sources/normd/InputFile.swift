import Foundation
import NormCore
import NpyFormat

/// Reads `normd apply`'s input: a regular file holding a 2-D `.npy` of finite values whose rows
/// have the pipeline's width.
enum InputFile {
    static func read(_ path: String, features: Int) throws(CommandFailure) -> FeatureBatch {
        switch FileKind.of(path, followingLinks: true) {
        case nil:
            throw CommandFailure(ExitStatus.noInput, "\(path): no such file")
        case .failure(let error)?:
            throw CommandFailure(ExitStatus.noInput, "\(path): cannot read the file: \(error.reason)")
        case .success(let kind?)?:
            // The whole input is read into memory: a device or FIFO could be endless (/dev/zero).
            throw CommandFailure(ExitStatus.noInput, "\(path): is \(kind); --input must be a regular .npy file")
        case .success(nil)?:
            break
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
