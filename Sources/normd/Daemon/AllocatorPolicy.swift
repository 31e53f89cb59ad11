#if canImport(Glibc)
    import CMalloc
    import Glibc
#endif

/// glibc `malloc`'s two thresholds, set once when `normd run` starts, before any socket or pipeline
/// exists.
///
/// **Why.** With glibc's defaults a daemon that moves batches of ≥ 128 KiB page-faults on every
/// batch: `M_TRIM_THRESHOLD` (128 KiB) hands the free top of the heap back to the kernel as soon as
/// a published batch's buffer (libzmq's copy of it) and the received messages are freed, and the
/// next batch faults the same pages back in, each one zeroed by the kernel. glibc's own dynamic
/// threshold only moves after a block above `M_MMAP_THRESHOLD` is freed, and then only to that
/// block's size. Measured with `perf stat -e page-faults` on the release normd under
/// `Benchmarks/harness.py` (BENCHMARKS.md, "Issue 15, allocator policy"): 128 f × 64-row messages
/// took 21–33 k faults/s (about 5 per batch, 2.4 % of normd's samples in `clear_page_erms` and the
/// fault path at 1024 f); with these thresholds, under 140/s.
///
/// **The values** are where glibc's dynamic adjustment would end for the largest blocks it adjusts
/// for (`DEFAULT_MMAP_THRESHOLD_MAX`, 32 MiB on 64-bit, and twice that for trimming), so they bound
/// nothing new: blocks below 32 MiB come from the heap, and up to 64 MiB of free top per malloc
/// arena stays mapped. That memory was in use at the peak, so the resident size never rises above
/// the peak it had already reached; it only stops falling back after it.
///
/// An operator who sets any `glibc.malloc.*` tunable in `GLIBC_TUNABLES` keeps their own values:
/// `mallopt` here would silently override them.
enum AllocatorPolicy {
    /// Blocks this large and larger are `mmap`ped (and unmapped when freed) rather than heap-allocated.
    static let mmapThreshold: Int32 = 32 << 20
    /// Free memory at the top of a heap above this is returned to the kernel.
    static let trimThreshold: Int32 = 64 << 20

    /// Applies the thresholds unless `GLIBC_TUNABLES` already sets glibc's malloc tunables; returns
    /// whether it did.
    @discardableResult
    static func apply() -> Bool {
        #if canImport(Glibc)
            if let tunables = getenv("GLIBC_TUNABLES"), String(cString: tunables).contains("glibc.malloc.") { return false }
            // `mallopt` returns 1 on success; either failing leaves glibc's defaults, which are correct, only slower.
            let mmap = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
            let trim = mallopt(M_TRIM_THRESHOLD, trimThreshold)
            return mmap == 1 && trim == 1
        #else
            return false
        #endif
    }
}
