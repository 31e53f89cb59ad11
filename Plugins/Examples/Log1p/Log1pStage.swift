import CStageABI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `log1p`: y = log1p(x + offset), for skewed non-negative features (counts, durations, sizes).
///
/// Stateless in its numbers, but it counts the training rows it has seen (`rows_seen`) so its
/// state round-trips through normd's state files like any stage's. A value with x + offset <= -1
/// has no logarithm: the whole batch is refused before any value changes.
///
/// ```yaml
/// - type: log1p
///   offset: 0.0   # optional, default 0
/// ```
final class Log1pStage {
    static let stateVersion: UInt32 = 1

    let features: Int
    let offset: Double
    private(set) var rowsSeen: Int64 = 0

    init(features: Int, offset: Double) {
        self.features = features
        self.offset = offset
    }

    /// The instance behind an opaque pointer handed out by `create`.
    static func from(_ instance: UnsafeRawPointer?) -> Log1pStage {
        Unmanaged<Log1pStage>.fromOpaque(instance!).takeUnretainedValue()
    }

    static func create(
        _ json: UnsafePointer<CChar>?, _ features: Int, _ instance: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        _ error: UnsafeMutablePointer<normd_stage_error>?
    ) -> Int32 {
        let text = json.map { String(cString: $0) } ?? "{}"
        var offset = 0.0
        switch FlatJSON.numbers(in: text) {
        case .failure(let problem):
            ErrorReport.write(problem.message, key: problem.key, to: error)
            return Int32(NORMD_STAGE_ERR_CONFIG)
        case .success(let numbers):
            for (key, value) in numbers {
                guard key == "offset" else {
                    ErrorReport.write("unknown key '\(key)'; expected: offset", key: key, to: error)
                    return Int32(NORMD_STAGE_ERR_CONFIG)
                }
                guard let value else { continue } // null: the default
                guard value.isFinite, value > -1 else {
                    let written = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
                    ErrorReport.write("must be a finite number > -1, got \(written)", key: key, to: error)
                    return Int32(NORMD_STAGE_ERR_CONFIG)
                }
                offset = value
            }
        }
        instance?.pointee = Unmanaged.passRetained(Log1pStage(features: features, offset: offset)).toOpaque()
        return Int32(NORMD_STAGE_OK)
    }

    func process(
        _ values: UnsafeMutablePointer<Float>?, rows: Int, features: Int, train: Bool,
        error: UnsafeMutablePointer<normd_stage_error>?
    ) -> Int32 {
        guard features == self.features else {
            ErrorReport.write("batch has \(features) features per row, expected \(self.features)", key: nil, to: error)
            return Int32(NORMD_STAGE_ERR_DATA)
        }
        guard let values, rows > 0 else { return Int32(NORMD_STAGE_OK) }
        let buffer = UnsafeMutableBufferPointer(start: values, count: rows * features)
        if let bad = buffer.firstIndex(where: { Double($0) + offset <= -1 }) {
            ErrorReport.write(
                "value \(buffer[bad]) at row \(bad / features), column \(bad % features) is <= -1 - offset (\(offset)): log1p is undefined there",
                key: nil, to: error)
            return Int32(NORMD_STAGE_ERR_DATA)
        }
        for index in buffer.indices {
            buffer[index] = Float(log1p(Double(buffer[index]) + offset))
        }
        if train { rowsSeen += Int64(rows) }
        return Int32(NORMD_STAGE_OK)
    }

    func fingerprint(_ writer: UnsafePointer<normd_fingerprint_writer>?) {
        guard let writer = writer?.pointee else { return }
        writer.put(writer.context, "offset", "\(offset)")
    }

    func save(_ writer: UnsafePointer<normd_state_writer>?) {
        guard let writer = writer?.pointee else { return }
        writer.put_counter(writer.context, "rows_seen", rowsSeen)
    }

    func load(_ reader: UnsafePointer<normd_state_reader>?, version: UInt32, error: UnsafeMutablePointer<normd_stage_error>?) -> Int32 {
        guard let reader = reader?.pointee else { return Int32(NORMD_STAGE_ERR_INTERNAL) }
        var value: Int64 = 0
        guard reader.get_counter(reader.context, "rows_seen", &value) == 0, value >= 0 else {
            ErrorReport.write("missing counter 'rows_seen'", key: nil, to: error)
            return Int32(NORMD_STAGE_ERR_STATE)
        }
        rowsSeen = value
        return Int32(NORMD_STAGE_OK)
    }
}
