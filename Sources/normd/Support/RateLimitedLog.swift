/// Admits at most `perInterval` log lines per `interval`, remembering how many it held back, so a
/// flood of bad messages cannot flood the log (the counters still count every one).
struct RateLimitedLog {
    let perInterval: Int
    let interval: Duration
    private var windowStart = ContinuousClock.now
    private var admitted = 0
    private var suppressed = 0

    init(perInterval: Int, interval: Duration) {
        self.perInterval = perInterval
        self.interval = interval
    }

    /// `nil` when this line should be dropped; otherwise how many were dropped since the last admitted one.
    mutating func admit(now: ContinuousClock.Instant = .now) -> Int? {
        if now - windowStart >= interval {
            windowStart = now
            admitted = 0
        }
        guard admitted < perInterval else {
            suppressed += 1
            return nil
        }
        admitted += 1
        defer { suppressed = 0 }
        return suppressed
    }
}
