#if canImport(Glibc)
    import CMalloc
    import Glibc
#endif

/// What this process holds in memory, read at each `/metrics` scrape (Docs/METRICS.md).
///
/// **Why the heap's own figures.** `AllocatorPolicy` keeps up to 64 MiB of free heap mapped, so the
/// resident size is a high-water mark: it rises when the bounded queues fill and does not fall when
/// they drain. A leak and a refill of the queues in fresh pages both raise it, and nothing lowers
/// either. glibc's count of the bytes its callers hold (`mallinfo2`'s `uordblks`, plus `hblkhd` for
/// blocks it `mmap`ped) falls back when the queues drain; only memory that is never freed keeps it
/// up. The soak judges leaks by it (Docs/RELIABILITY.md), and an operator can tell a leak from a
/// high-water mark the same way.
struct ProcessMemory: Equatable {
    /// Resident set size (`/proc/self/statm`'s second field × the page size).
    var residentBytes: Int
    /// Bytes held by `malloc`'s callers: `uordblks + hblkhd`, over every arena.
    var heapInUseBytes: Int
    /// Free bytes glibc keeps in its arenas for reuse (`fordblks`): resident or not, not returned to the kernel.
    var heapFreeBytes: Int

    /// Reads the figures now; `nil` where `/proc` or glibc's `mallinfo2` is not available.
    ///
    /// `mallinfo2` walks every arena under its lock: once per scrape, never on the data path.
    static func now() -> ProcessMemory? {
        #if canImport(Glibc)
            guard let resident = residentBytesFromStatm() else { return nil }
            let info = mallinfo2()
            return ProcessMemory(
                residentBytes: resident, heapInUseBytes: Int(clamping: info.uordblks &+ info.hblkhd),
                heapFreeBytes: Int(clamping: info.fordblks))
        #else
            return nil
        #endif
    }

    /// `/proc/self/statm` is "size resident shared text lib data dt", in pages; at most a few dozen bytes.
    private static func residentBytesFromStatm() -> Int? {
        #if canImport(Glibc)
            let file = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
            guard file >= 0 else { return nil }
            defer { close(file) }
            var buffer = [UInt8](repeating: 0, count: 128)
            let count = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
            guard count > 0 else { return nil }
            let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
            guard fields.count >= 2, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
            return nil
        #endif
    }
}
