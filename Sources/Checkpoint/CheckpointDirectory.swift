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
    /// The highest generation number normd writes or reads: 10¹² − 1. At one generation per second
    /// that lasts 31 000 years, so a larger number in a file name was not written by normd (a
    /// crafted or mistyped name): such a file is skipped with a warning. And since the next number is
    /// at most `maxGeneration + 1`, generation arithmetic cannot overflow. When the newest
    /// generation *is* the maximum, normd refuses to write another (`.generationsExhausted`) rather
    /// than wrap around and make an older file look newest.
    public static let maxGeneration: UInt64 = 999_999_999_999

    /// One generation file.
    public struct Generation: Sendable, Equatable {
        public var number: UInt64
        public var path: String
    }

    /// A `normd-state-*.json` file that is not a generation normd could have written.
    public struct IgnoredFile: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var reason: String
        public var description: String { "\(name): \(reason)" }
    }

    /// What the directory holds: its generations (oldest first) and the look-alike names skipped.
    public struct Listing: Sendable, Equatable {
        public var generations: [Generation]
        public var ignored: [IgnoredFile]

        /// One past the newest generation (1 in an empty directory).
        /// - Throws: `.generationsExhausted` when the newest is `maxGeneration`.
        public func nextGeneration() throws(CheckpointError) -> UInt64 {
            guard let newest = generations.last else { return 1 }
            guard newest.number < CheckpointDirectory.maxGeneration else {
                throw .generationsExhausted(path: newest.path)
            }
            return newest.number + 1
        }
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

    /// What a directory entry is: a generation, a look-alike to warn about, or unrelated.
    public enum Entry: Sendable, Equatable {
        case generation(UInt64)
        case ignored(reason: String)
        case unrelated
    }

    /// Classifies `name` without trapping on any input: `normd-state-<digits>.json` with a number
    /// from 0 to `maxGeneration` is a generation; other names with that prefix and suffix are
    /// look-alikes (unparseable or absurd numbers); everything else is unrelated.
    public static func entry(forFileName name: String) -> Entry {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.utf8.count >= prefix.utf8.count + suffix.utf8.count else { return .unrelated }
        let digits = name.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count)
        guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return .ignored(reason: "not a generation number (normd names generations \(prefix)<digits>\(suffix))")
        }
        // At most 13 significant digits fit the limit; longer runs are absurd without parsing them.
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 13, let number = UInt64(String(decoding: digits, as: UTF8.self)), number <= maxGeneration else {
            return .ignored(reason: "generation number above \(maxGeneration), which normd never writes")
        }
        return .generation(number)
    }

    /// The generation number in `name`, or `nil` if `name` is not a generation file.
    public static func generationNumber(inFileName name: String) -> UInt64? {
        if case .generation(let number) = entry(forFileName: name) { return number }
        return nil
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

    /// Lists the directory. A directory that cannot be listed is an error, not "no checkpoint":
    /// taking it for a first start would silently reset every pipeline.
    public func listing() throws(CheckpointError) -> Listing {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw .unlistable(path: path, reason: (error as NSError).localizedDescription)
        }
        var listing = Listing(generations: [], ignored: [])
        for name in names {
            switch Self.entry(forFileName: name) {
            case .generation(let number): listing.generations.append(Generation(number: number, path: path + "/" + name))
            case .ignored(let reason): listing.ignored.append(IgnoredFile(name: path + "/" + name, reason: reason))
            case .unrelated: break
            }
        }
        listing.generations.sort { $0.number < $1.number }
        listing.ignored.sort { $0.name < $1.name }
        return listing
    }

    /// Every generation file, oldest first.
    public func generations() throws(CheckpointError) -> [Generation] {
        try listing().generations
    }

    /// Loads the newest generation that reads and verifies.
    /// - Returns: `nil` when there is no generation at all (a first start).
    /// - Throws: `.noValidGeneration` when there are generations but none is readable;
    ///   `.writtenByNewerNormd` when one newer than every readable one has a newer format;
    ///   `.unlistable` when the directory cannot be listed.
    public func loadNewestValid() throws(CheckpointError) -> Loaded? {
        let all = try generations()
        guard !all.isEmpty else { return nil }
        var failures: [StateFileError] = []
        for generation in all.reversed() {
            do {
                if let document = try StateFile.read(path: generation.path) {
                    return Loaded(generation: generation, document: document, skipped: failures)
                }
            } catch {
                if case .newerFormatVersion = error { throw .writtenByNewerNormd(error) }
                failures.append(error)
            }
        }
        throw .noValidGeneration(directory: path, failures: failures)
    }

    /// Writes `document` as generation `number`, atomically and durably.
    @discardableResult
    public func write(_ document: StateDocument, generation number: UInt64) throws(CheckpointError) -> Generation {
        guard number <= Self.maxGeneration else {
            throw .generationsExhausted(path: path + "/" + Self.fileName(generation: Self.maxGeneration))
        }
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
        // Best effort: a listing error here was (or will be) reported by the write or the start.
        let all = (try? generations()) ?? []
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
