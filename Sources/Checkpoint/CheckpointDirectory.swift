import Foundation

/// A directory of checkpoint generations: `normd-state-00000042.json`, one state file (the
/// `normd apply --state` format) per generation, holding every pipeline. Higher numbers are newer.
///
/// A generation is written with `AtomicFileWriter` (temp file, fsync, rename, directory fsync), so
/// after a crash every `normd-state-*.json` is whole; only `.normd-state-*.tmp-*` leftovers of an
/// interrupted write can remain, and `removeTemporaryFiles()` deletes them on the next start.
public struct CheckpointDirectory: Sendable {
    public static let prefix = "normd-state-"
    public static let suffix = ".json"

    /// One generation file.
    public struct Generation: Sendable, Equatable {
        public var number: UInt64
        public var path: String
    }

    /// The newest readable generation, and what was wrong with every newer one.
    public struct Loaded: Sendable {
        public var generation: Generation
        public var document: StateDocument
        /// Newer generations that could not be read, newest first.
        public var skipped: [StateFileError]
    }

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The file name of generation `number`: 8 digits at least, so names sort like numbers.
    public static func fileName(generation number: UInt64) -> String {
        let digits = String(number)
        return prefix + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + suffix
    }

    /// The generation number in `name`, or `nil` if `name` is not a generation file.
    public static func generationNumber(inFileName name: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return UInt64(digits)
    }

    /// Creates the directory (and its parents) if needed.
    public func create() throws(CheckpointError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .unusableDirectory(path: path, reason: "it is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .unusableDirectory(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Every generation file, oldest first.
    public func generations() -> [Generation] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.compactMap { name in
            Self.generationNumber(inFileName: name).map { Generation(number: $0, path: path + "/" + name) }
        }.sorted { $0.number < $1.number }
    }

    /// Loads the newest generation that reads and verifies.
    /// - Returns: `nil` when there is no generation at all (a first start).
    /// - Throws: `.noValidGeneration` when there are generations but none is readable.
    public func loadNewestValid() throws(CheckpointError) -> Loaded? {
        let all = generations()
        guard !all.isEmpty else { return nil }
        var failures: [StateFileError] = []
        for generation in all.reversed() {
            do {
                if let document = try StateFile.read(path: generation.path) {
                    return Loaded(generation: generation, document: document, skipped: failures)
                }
            } catch {
                failures.append(error)
            }
        }
        throw .noValidGeneration(directory: path, failures: failures)
    }

    /// Writes `document` as generation `number`, atomically and durably.
    @discardableResult
    public func write(_ document: StateDocument, generation number: UInt64) throws(CheckpointError) -> Generation {
        let generation = Generation(number: number, path: path + "/" + Self.fileName(generation: number))
        do {
            try StateFile.write(document, to: generation.path)
        } catch {
            throw .writeFailed(error)
        }
        return generation
    }

    /// Deletes all but the newest `keep` generations; returns the deleted files.
    @discardableResult
    public func prune(keep: Int) -> [String] {
        let all = generations()
        guard all.count > keep else { return [] }
        let doomed = all.prefix(all.count - max(1, keep)).map(\.path)
        for file in doomed { unlinkIgnoringErrors(file) }
        return doomed
    }

    /// Deletes leftovers of writes a crash interrupted (`.normd-state-….json.tmp-XXXXXX`).
    @discardableResult
    public func removeTemporaryFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let leftovers = names.filter { $0.hasPrefix("." + Self.prefix) && $0.contains(Self.suffix + ".tmp-") }.map { path + "/" + $0 }
        for file in leftovers { unlinkIgnoringErrors(file) }
        return leftovers
    }

    private func unlinkIgnoringErrors(_ file: String) {
        try? FileManager.default.removeItem(atPath: file)
    }
}
