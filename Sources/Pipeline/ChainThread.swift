import Dispatch
import Foundation
import NormCore
import StageKit

/// A second thread that runs the stage chain on one batch while the pipeline's own thread receives,
/// decodes and batches the next rows (`chain_thread: true`).
///
/// Why: at wide rows the chain is most of the pipeline thread's work (1 024 features × 64-row
/// messages: 0.4–0.6 ms per 256-row batch, ~60 % of it, measured), and one thread doing receive,
/// batching, chain and publish in turn caps a pipeline on a machine with cores to spare. Splitting
/// lets the two parts overlap; with `io_threads: 2` beside it, the busiest-thread estimate from
/// measured per-thread CPU puts one pipeline's ceiling ~1.5–1.8× higher where each thread has a core
/// (BENCHMARKS.md, "wide rows on two threads"). On 2 cores it only adds CPU.
///
/// The hand-off is bounded at **one** batch: `start` requires the thread idle, and the engine waits
/// (`finish`) before it starts the next batch or touches the chain for anything else. So the chain's
/// statistics are only ever changed by one thread at a time, batches leave in order, and the
/// pipeline holds at most two batches of storage (the one in the chain, the one filling), reused
/// for ever: no allocation per batch.
///
/// The two threads meet on two semaphores (futex waits on Linux): `work` wakes the chain thread,
/// `done` wakes the pipeline thread. Each signal orders everything written before it, so the job's
/// fields are plain storage read and written by one side at a time.
final class ChainThread: @unchecked Sendable {
    /// One batch's trip through the chain: what the pipeline thread hands over, and what comes back.
    struct Job {
        var chain: StageChain
        var batch: FeatureBatch
        var mode: Mode
        /// The engine's retry buffer, lent for the trip: the chain copies a train batch into it just
        /// before it first changes the batch on a path that can still fail (`keepOriginal`).
        var retry: FeatureBatch
        var retryKept = false
        var result: Result<ChainOutcome, StageError> = .success(ChainOutcome(mode: .infer))
        /// The chain's own time for this batch, measured on the chain thread.
        var duration: Duration = .zero
    }

    private let work = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    /// Written by the pipeline thread before `work.signal()`, by the chain thread before `done.signal()`.
    private var job: Job?
    private var stopping = false
    /// Whether a job was started and not yet finished (read and written by the pipeline thread only).
    private(set) var busy = false

    /// - Parameter name: the OS thread's name (`top -H`, `perf`), cut to Linux's 15 bytes.
    init(name: String) {
        let thread = Thread { [self] in
            nameCurrentThread(name)
            while true {
                work.wait()
                if stopping { break }
                if self.job != nil { Self.run(&self.job!) }
                done.signal()
            }
            exited.signal()
        }
        thread.start()
    }

    /// Hands `job` to the chain thread and returns at once. Pipeline thread only; the thread must be idle.
    /// Consumed, so that the batch's storage has one owner and the chain changes it in place.
    func start(_ job: consuming Job) {
        precondition(!busy, "a second batch handed to the chain thread before the first was finished")
        self.job = consume job
        busy = true
        work.signal()
    }

    /// Waits until the started job has run and returns it. Pipeline thread only.
    func finish() -> Job {
        precondition(busy, "no batch on the chain thread")
        done.wait()
        busy = false
        var taken: Job?
        swap(&taken, &job)
        guard let taken else { preconditionFailure("the chain thread returned no job") }
        return taken
    }

    /// Ends the thread and waits for it (after `finish`, if a job was started).
    func stop() {
        if busy { _ = finish() }
        stopping = true
        work.signal()
        exited.wait()
    }

    /// What the chain thread does with a job: the same call the engine makes when it runs the chain
    /// itself (`StageChain.process`, input already checked finite at intake).
    private static func run(_ job: inout Job) {
        let started = ContinuousClock.now
        // Moved out (not copied), so the copy below writes into the buffer's own storage.
        var retry = FeatureBatch(rows: 0, features: job.retry.features)
        swap(&retry, &job.retry)
        var kept = false
        do throws(StageError) {
            job.result = .success(
                try job.chain.process(&job.batch, mode: job.mode, inputValidated: true) { original in
                    retry.copyRows(of: original)
                    kept = true
                })
        } catch {
            job.result = .failure(error)
        }
        job.retry = retry
        job.retryKept = kept
        job.duration = ContinuousClock.now - started
    }
}

/// Names the calling thread for the OS (`/proc/PID/task/TID/comm`, `top -H`, `perf`), cut to the
/// 15 bytes Linux keeps. Foundation's `Thread.name` did not reach the OS here (measured: a thread
/// given the name `normd-p-chain` showed its creator's, libdispatch's `oot.default-qos`, as the
/// pipeline threads did in profiles). Written through `/proc/thread-self/comm` (Linux ≥ 3.17): the Glibc module leaves out
/// `pthread_setname_np`. Best effort: a name is for people, nothing depends on it.
public func nameCurrentThread(_ name: String) {
    var bytes = Array(name.utf8.prefix(15))
    while String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() } // never cut a character in two
    guard let file = fopen("/proc/thread-self/comm", "w") else { return }
    defer { fclose(file) }
    _ = fwrite(bytes, 1, bytes.count, file)
}
