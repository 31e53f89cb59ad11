import Foundation
import ZeroMQ

/// A socket for tests: linger 0 so a failing test never hangs in `terminate()`.
func makeSocket(_ context: ZMQContext, _ type: ZMQSocketType) throws -> ZMQSocket {
    let socket = try ZMQSocket(context: context, type: type)
    try socket.setLinger(milliseconds: 0)
    return socket
}

/// A PULL socket bound to a free loopback port and its resolved endpoint.
func bindPullOnFreePort(_ context: ZMQContext) throws -> (ZMQSocket, String) {
    let pull = try makeSocket(context, .pull)
    try pull.bind("tcp://127.0.0.1:*")
    return (pull, try pull.lastEndpoint)
}

/// Runs `body` on its own `Thread` (sockets there are created and closed on that thread),
/// so that blocking libzmq calls never occupy the test runner's cooperative threads.
final class TestThread: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var failure: (any Error)?

    init(_ body: @escaping @Sendable () throws -> Void) {
        let thread = Thread { [self] in
            do { try body() } catch { lock.withLock { failure = error } }
            finished.signal()
        }
        thread.start()
    }

    /// Waits for the thread to finish; returns `false` on timeout. Rethrows the thread's error.
    func join(timeoutSeconds: Double = 5) throws -> Bool {
        guard finished.wait(timeout: .now() + timeoutSeconds) == .success else { return false }
        if let failure = lock.withLock({ failure }) { throw failure }
        return true
    }
}

/// A fresh private directory for `ipc://` endpoints, removed by the caller.
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/normd-zmq-XXXXXX".utf8CString)
    guard let path = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
    return String(cString: path)
}

/// Deterministic, non-repeating-looking bytes.
func patternBytes(count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ ($0 >> 8)) }
}
