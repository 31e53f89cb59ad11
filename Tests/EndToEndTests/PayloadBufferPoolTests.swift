import NormCore
import Testing

@testable import normd

/// The output's payload pool (Docs/LIMITS.md, "Output payload buffers"): bounded, and once warm it
/// makes no buffer while traffic comes and goes, yet gives back what sat idle.
@Suite struct PayloadBufferPoolTests {
    /// One 256 × 16 batch: 16 KiB, the 16-feature benchmark's batch.
    static let batch = FeatureBatch(rows: 256, features: 16)

    /// At full rate libzmq's queue of lent buffers swells and drains by hundreds at a time (the
    /// consumer reads in bursts). The pool used to free every buffer checked in beyond 64 idle ones
    /// and make them again on the next swell: 17 % of the batches at 16 features × 64-row messages
    /// paid a 16 KiB allocation, zero-fill and page faults (perf probe, 13 047 buffers made in 3 s).
    @Test func buffersComingBackInBurstsAreReusedNotMadeAgain() throws {
        let pool = PayloadBufferPool()
        for _ in 0..<3 {
            var lent: [PayloadBuffer] = []
            for _ in 0..<300 { lent.append(try #require(pool.checkOut(like: Self.batch))) }
            for buffer in lent { buffer.bytesReleased() }
        }
        #expect(pool.made == 300)
        #expect(pool.created == 300)
        #expect(pool.inFlight == 0)
    }

    /// What a stalled consumer's queue piled up is given back once it has sat idle for a whole
    /// period, down to the reserve (1 MiB / 16 KiB = 64 buffers); what was in use meanwhile stays.
    @Test func buffersIdleForAWholePeriodAreFreedDownToTheReserve() throws {
        let start = ContinuousClock.now
        let pool = PayloadBufferPool(now: start)
        var lent: [PayloadBuffer] = []
        for _ in 0..<500 { lent.append(try #require(pool.checkOut(like: Self.batch))) }
        for buffer in lent { buffer.bytesReleased() }
        lent.removeAll()
        let period = PayloadBufferPool.trimPeriod
        #expect(pool.trimIdle(now: start + period - .milliseconds(1)) == 0, "before the period is over")
        // The first trim starts the count: nothing was known idle before it.
        #expect(pool.trimIdle(now: start + period) == 0)
        // 100 in use during the next period (out, then back): 400 stayed idle all along.
        for _ in 0..<100 { lent.append(try #require(pool.checkOut(like: Self.batch))) }
        for buffer in lent { buffer.bytesReleased() }
        lent.removeAll()
        #expect(pool.trimIdle(now: start + period * 2) == 400 - 64)
        #expect(pool.created == 500 - 336)
        // The next period, none used: all but the reserve go.
        #expect(pool.trimIdle(now: start + period * 3) == 164 - 64)
        #expect(pool.created == 64)
        #expect(pool.trimIdle(now: start + period * 4) == 0)
        // The reserve is reused, and one more is made only beyond it.
        for _ in 0..<65 { lent.append(try #require(pool.checkOut(like: Self.batch))) }
        #expect(pool.made == 501)
        #expect(pool.inFlight == 65)
        for buffer in lent { buffer.bytesReleased() }
    }
}
