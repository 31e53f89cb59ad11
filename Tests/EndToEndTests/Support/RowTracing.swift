import Foundation
import NormTesting
import Testing

/// Deterministic test rows with per-column offsets and scales, so normalization visibly changes them.
enum TestRows {
    static func make(_ count: Int, features: Int, salt: Int = 0) -> [[Float]] {
        (0..<count).map { row in
            (0..<features).map { column in
                Float(sin(Double(row * 7 + column * 3 + salt) * 0.37) * Double(column + 1) * 4 + Double(column * 10))
            }
        }
    }

    /// Writes `rows` to `name` in the scratch directory as `<f4` .npy; returns the path.
    static func write(_ rows: [[Float]], to name: String, in scratch: ScratchDirectory) throws -> String {
        let path = scratch.path(name)
        try NpyFixture.writeFloat32(rows, columns: rows.first?.count ?? 1, to: path)
        return path
    }
}

/// Maps output rows back to the rows the producers sent, through the header's `sources`.
enum RowTracing {
    /// For each output row, in output order, the index of the input row it came from.
    /// - Parameter firstRow: `producer` → message `seq` → index of the message's first row in the rows file.
    static func inputRows(of messages: [Consumer.Message], firstRow: [String: [Int: Int]]) throws -> [Int] {
        var traced: [Int] = []
        for message in messages {
            var covered = 0
            for source in message.sources {
                let producer = try #require(source["producer"] as? String, "source without producer: \(source)")
                let seq = try #require(source["seq"] as? Int, "source without seq: \(source)")
                let rows = try #require(source["rows"] as? [Int]), messageRows = try #require(source["message_rows"] as? [Int])
                #expect(
                    rows[0] == covered && rows[1] - rows[0] == messageRows[1] - messageRows[0],
                    "batch \(message.batch ?? -1): sources must cover the batch's rows in order: \(message.sources)")
                covered = rows[1]
                guard producer != "probe" else { continue }
                let start = try #require(firstRow[producer]?[seq], "unknown message \(producer)#\(seq)")
                traced += (messageRows[0]..<messageRows[1]).map { start + $0 }
            }
            #expect(covered == message.rows, "batch \(message.batch ?? -1): sources cover \(covered) of \(message.rows) rows")
        }
        return traced
    }

    /// `producer` → `seq` → first row, for messages built with `MessageSpec`.
    static func firstRows(_ specs: [MessageSpec]) -> [String: [Int: Int]] {
        var map: [String: [Int: Int]] = [:]
        for spec in specs { if let producer = spec.producer, let seq = spec.seq { map[producer, default: [:]][seq] = spec.rows.lowerBound } }
        return map
    }
}

/// `normd apply` on the same rows and configuration: what the daemon's batches must equal.
enum ApplyReference {
    /// Runs `normd apply --mode train --batch-size batchSize` and returns the normalized rows.
    static func normalize(
        rowsFile: String, config: String, pipeline: String? = nil, batchSize: Int,
        in scratch: ScratchDirectory
    ) throws -> [[Float]] {
        let output = scratch.path("apply-\(UUID().uuidString).npy")
        var arguments = ["apply", "--config", config, "--mode", "train", "--batch-size", "\(batchSize)", "--input", rowsFile, "--output", output]
        if let pipeline { arguments += ["--pipeline", pipeline] }
        let result = try Normd.run(arguments)
        try #require(result.status == 0, "normd apply failed: \(result.stderr)")
        let array = try NpyFixture.readFloat32(output)
        return (0..<array.rows).map { row in Array(array.values[(row * array.columns)..<((row + 1) * array.columns)]) }
    }

    /// Expects the received batches, concatenated, to equal `expected` within `tolerance`, and
    /// each batch to have the size `batchSizes` says.
    static func expectEqual(
        _ messages: [Consumer.Message], _ expected: [[Float]], batchSizes: [Int],
        tolerance: Double = 1e-6, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(messages.map(\.rows) == batchSizes, "batch sizes", sourceLocation: sourceLocation)
        let received = messages.flatMap(\.data)
        #expect(received.count == expected.count, "rows received", sourceLocation: sourceLocation)
        var worst = 0.0, worstAt = (0, 0)
        for (row, (got, want)) in zip(received, expected).enumerated() {
            for (column, (value, reference)) in zip(got, want).enumerated() where abs(value - Double(reference)) > worst {
                worst = abs(value - Double(reference))
                worstAt = (row, column)
            }
        }
        #expect(
            worst <= tolerance, "worst difference to normd apply: \(worst) at row \(worstAt.0), column \(worstAt.1)",
            sourceLocation: sourceLocation)
    }

    /// Batch sizes of `rows` rows cut into batches of `size`.
    static func batchSizes(rows: Int, size: Int) -> [Int] {
        Array(repeating: size, count: rows / size) + (rows % size > 0 ? [rows % size] : [])
    }
}
