internal import CStageABI
import StageKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The host services of `normd_stage.h` ("HOST SERVICES"): a config reader, so a plugin in C reads
/// its configuration without a JSON parser.
///
/// Why keyed by the `config_json` pointer: `create`'s signature is fixed by ABI version 1, so the
/// only thing a plugin can hand back is the buffer it received. While `create` runs, the host keeps
/// that buffer's address → the mapping it was rendered from (`ConfigNode`s, which still hold `.inf`
/// and `.nan`: the reader returns them faithfully where the JSON can only say `null`). Any other
/// pointer, or the same one after `create` returned, reads as "not a config" — never as freed memory.
enum HostServices {
    /// The struct handed to every plugin that exports `normd_stage_plugin_host`; allocated once,
    /// never freed (plugins keep the pointer for the life of the process) and never written after
    /// its initialization, hence safe to share.
    nonisolated(unsafe) static let table: UnsafePointer<normd_host_services> = {
        let table = UnsafeMutablePointer<normd_host_services>.allocate(capacity: 1)
        table.initialize(
            to: normd_host_services(
                struct_size: UInt32(MemoryLayout<normd_host_services>.size), reserved: 0,
                config_key_count: { config in HostServices.reading(config, or: 0) { $0.keys.count } },
                config_key: { config, index in
                    HostServices.reading(config, or: nil) { index < $0.keys.count ? UnsafePointer($0.keys[index]) : nil }
                },
                config_get_double: { config, key, out in
                    HostServices.withValue(config, key) { value, _ in
                        switch value {
                        case .int(let integer): out?.pointee = Double(integer)
                        case .double(let number): out?.pointee = number
                        default: return HostServices.wrongType
                        }
                        return HostServices.ok
                    }
                },
                config_get_bool: { config, key, out in
                    HostServices.withValue(config, key) { value, _ in
                        guard case .bool(let flag) = value else { return HostServices.wrongType }
                        out?.pointee = flag ? 1 : 0
                        return HostServices.ok
                    }
                },
                config_get_string: { config, key, out in
                    HostServices.withValue(config, key) { value, mapping in
                        guard case .string = value, let key, let text = mapping.cString(for: String(cString: key)) else {
                            return HostServices.wrongType
                        }
                        out?.pointee = text
                        return HostServices.ok
                    }
                }))
        return UnsafePointer(table)
    }()

    /// Offers the services to a library that exports `normd_stage_plugin_host`; returns whether it does.
    static func offer(to handle: UnsafeMutableRawPointer) -> Bool {
        guard let symbol = dlsym(handle, NORMD_STAGE_HOST_SYMBOL) else {
            _ = dlerror()
            return false
        }
        unsafeBitCast(symbol, to: normd_stage_plugin_host_fn.self)(table)
        return true
    }

    /// Runs `body` (the plugin's `create`) with `json` as a NUL-terminated buffer the config reader
    /// recognises, holding `entries`; the buffer is forgotten (and its strings freed) when `body` returns.
    static func withConfig<Result>(_ entries: [ConfigEntry], json: String, _ body: (UnsafePointer<CChar>) -> Result) -> Result {
        json.withCString { buffer in
            let address = UInt(bitPattern: buffer)
            let config = ActiveConfig(entries)
            active.withLock { $0[address] = config }
            defer {
                active.withLock { $0[address] = nil }
                config.release()
            }
            return body(buffer)
        }
    }

    // MARK: the reader

    /// One mapping being read: its entries and C copies of its keys and string values, made up front
    /// so the object is immutable while registered (a plugin may read it from any thread during
    /// `create`) and freed after `create` returns.
    final class ActiveConfig: @unchecked Sendable {
        let entries: [ConfigEntry]
        let keys: [UnsafeMutablePointer<CChar>]
        private let strings: [String: UnsafeMutablePointer<CChar>]

        init(_ entries: [ConfigEntry]) {
            self.entries = entries
            keys = entries.map { strdup($0.key)! }
            var strings: [String: UnsafeMutablePointer<CChar>] = [:]
            for entry in entries {
                if case .string(let text) = entry.value.value, strings[entry.key] == nil { strings[entry.key] = strdup(text)! }
            }
            self.strings = strings
        }

        func value(_ key: String) -> ConfigValue? { entries.first { $0.key == key }?.value.value }

        func cString(for key: String) -> UnsafePointer<CChar>? { strings[key].map { UnsafePointer($0) } }

        func release() {
            for key in keys { free(key) }
            for text in strings.values { free(text) }
        }
    }

    private static let active = Mutex<[UInt: ActiveConfig]>([:])

    private static func reading<T>(_ config: UnsafePointer<CChar>?, or fallback: T, _ read: (ActiveConfig) -> T) -> T {
        guard let config else { return fallback }
        let address = UInt(bitPattern: config)
        guard let mapping = active.withLock({ $0[address] }) else { return fallback }
        return read(mapping)
    }

    static let ok = Int32(NORMD_CONFIG_OK), wrongType = Int32(NORMD_CONFIG_WRONG_TYPE)

    /// The common part of the getters: find the mapping and the key (under the lock, so a plugin
    /// calling from another thread as `create` ends reads "not a config", never freed memory), then
    /// let `read` convert the value and return the status.
    private static func withValue(
        _ config: UnsafePointer<CChar>?, _ key: UnsafePointer<CChar>?, _ read: (ConfigValue, ActiveConfig) -> Int32
    ) -> Int32 {
        guard let key else { return Int32(NORMD_CONFIG_ABSENT) }
        let name = String(cString: key)
        return reading(config, or: Int32(NORMD_CONFIG_NOT_A_CONFIG)) { mapping in
            guard let value = mapping.value(name) else { return Int32(NORMD_CONFIG_ABSENT) }
            if case .null = value { return Int32(NORMD_CONFIG_NULL) }
            return read(value, mapping)
        }
    }
}
