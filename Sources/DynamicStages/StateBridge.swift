internal import CStageABI
import StageKit

/// Moves a `StageState` across the C ABI as named Float64 vectors and Int64 counters.
///
/// The C callbacks cannot capture, so each call passes a box through the struct's `context`
/// pointer (unretained: the box outlives the call it is used in). Every name and array is copied
/// during the callback, as the ABI promises plugins.
enum StateBridge {
    /// Collects what `save_state` writes.
    final class Collector {
        var vectors: [String: [Double]] = [:]
        var counters: [String: Int64] = [:]
    }

    /// Serves what `load_state` reads.
    final class Source {
        let state: StageState
        init(_ state: StageState) { self.state = state }
    }

    static func writer(for collector: Collector) -> normd_state_writer {
        normd_state_writer(
            context: Unmanaged.passUnretained(collector).toOpaque(),
            put_vector: { context, name, values, count in
                guard let context, let name else { return }
                let box = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
                box.vectors[String(cString: name)] = values.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
            },
            put_counter: { context, name, value in
                guard let context, let name else { return }
                Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue().counters[String(cString: name)] = value
            })
    }

    static func reader(for source: Source) -> normd_state_reader {
        normd_state_reader(
            context: Unmanaged.passUnretained(source).toOpaque(),
            vector_count: { context, name in
                guard let context, let name else { return -1 }
                let state = Unmanaged<Source>.fromOpaque(context).takeUnretainedValue().state
                return state.statistics[String(cString: name)].map { Int64($0.count) } ?? -1
            },
            get_vector: { context, name, out, count in
                guard let context, let name else { return -1 }
                let state = Unmanaged<Source>.fromOpaque(context).takeUnretainedValue().state
                guard let values = state.statistics[String(cString: name)] else { return -1 }
                let copied = min(count, values.count)
                if let out, copied > 0 { values.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: copied) } }
                return Int64(copied)
            },
            get_counter: { context, name, out in
                guard let context, let name else { return -1 }
                let state = Unmanaged<Source>.fromOpaque(context).takeUnretainedValue().state
                guard let value = state.counters[String(cString: name)] else { return -1 }
                out?.pointee = value
                return 0
            })
    }

    /// Collects what `fingerprint` writes.
    final class Fingerprint {
        var pairs: [String: String] = [:]
    }

    static func writer(for fingerprint: Fingerprint) -> normd_fingerprint_writer {
        normd_fingerprint_writer(
            context: Unmanaged.passUnretained(fingerprint).toOpaque(),
            put: { context, key, value in
                guard let context, let key, let value else { return }
                Unmanaged<Fingerprint>.fromOpaque(context).takeUnretainedValue().pairs[String(cString: key)] = String(cString: value)
            })
    }
}
