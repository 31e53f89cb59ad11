public import Logging
public import ServiceLifecycle
import Synchronization

/// The admin server's place in the daemon's `ServiceGroup`, for the daemon's whole life, whether an
/// `admin:` section is configured or not: it runs at most one `AdminServer` at a time and a reload
/// can start, replace (a changed `admin.listen`) or stop it.
///
/// Each server runs in a service group of its own inside this service, so it can be stopped
/// gracefully on its own: Hummingbird then closes the listening socket and lets requests in flight
/// finish — the `POST /reload` that moved or removed the server is answered by the old one.
///
/// **Re-binding binds first.** `start` binds the new address while the old server still runs and
/// stops the old one only once the new one listens; an address that cannot be bound leaves the old
/// server as it was (the reload is refused). A new address equal to the old one's host and port cannot
/// be bound while the old one holds it (`ReloadPlan` refuses changing only `control` or `token_file`).
///
/// A server that fails after it listened makes `run()` throw, so the daemon stops as it did when the
/// only server failed (exit 69); one that fails while starting only fails its `start`.
public final class AdminHost: Service, Sendable {
    private struct Generation: Sendable {
        let group: ServiceGroup
        let address: String
        let finished: Task<Void, Never>
    }

    private struct State {
        var current: Generation?
        var shuttingDown = false
    }

    private let state = Mutex(State())
    private let failures: AsyncStream<AdminServer.ListenError>
    private let failure: AsyncStream<AdminServer.ListenError>.Continuation
    private let backend: any AdminBackend
    private let metrics: NormdMetrics
    private let logger: Logger

    public init(backend: any AdminBackend, metrics: NormdMetrics, logger: Logger) {
        self.backend = backend
        self.metrics = metrics
        self.logger = logger
        (failures, failure) = AsyncStream.makeStream()
    }

    /// The address the running server listens on (`HOST:PORT`), `nil` when none runs.
    public var address: String? { state.withLock { $0.current?.address } }

    /// Starts a server with `settings`, returns its bound `HOST:PORT` once it listens, then stops the
    /// previous server (if any) gracefully.
    /// - Throws: the `ListenError` when the address cannot be bound; the previous server runs on.
    @discardableResult
    public func start(_ settings: AdminServer.Settings) async throws(AdminServer.ListenError) -> String {
        let (listening, signal) = AsyncStream<Result<String, AdminServer.ListenError>>.makeStream()
        let server = AdminServer(
            settings: settings, backend: backend, metrics: metrics, logger: logger, onListening: { signal.yield(.success($0)) })
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        let wanted = "\(settings.host):\(settings.port)"
        // Detached: a reload's `start` runs inside the old server's request handler, whose task-local
        // graceful-shutdown context an attached task would inherit (stopping the old server would
        // stop the new one too).
        let finished = Task.detached { [failure] in
            do {
                try await group.run()
            } catch {
                let problem = error as? AdminServer.ListenError ?? AdminServer.ListenError(address: wanted, underlying: "\(error)")
                signal.yield(.failure(problem))
                // Only a server that was running (the current one) stops the daemon.
                if self.isCurrent(group) { failure.yield(problem) }
            }
            signal.finish()
        }
        var outcome: Result<String, AdminServer.ListenError> = .failure(.init(address: wanted, underlying: "the server ended before it listened"))
        for await result in listening {
            outcome = result
            break
        }
        let address: String
        switch outcome {
        case .success(let bound): address = bound
        case .failure(let problem): throw problem
        }
        let (previous, shuttingDown) = state.withLock { state in
            defer { state.current = Generation(group: group, address: address, finished: finished) }
            return (state.current, state.shuttingDown)
        }
        if let previous { await stop(previous) }
        if shuttingDown { await group.triggerGracefulShutdown() }
        return address
    }

    /// Stops the running server, if any (the reload removed `admin:`); requests in flight are answered.
    public func stop() async {
        guard
            let current = state.withLock({ state in
                defer { state.current = nil }; return state.current
            })
        else { return }
        await stop(current)
    }

    private func stop(_ generation: Generation) async {
        await generation.group.triggerGracefulShutdown()
        logger.info("admin stopped", metadata: ["address": "\(generation.address)"])
    }

    private func isCurrent(_ group: ServiceGroup) -> Bool {
        state.withLock { $0.current?.group === group }
    }

    /// Lives until the daemon's group shuts down (then stops the server and waits for it), or throws
    /// when the running server fails.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            for await problem in failures { throw problem }
        } onGracefulShutdown: {
            self.state.withLock { $0.shuttingDown = true }
            self.failure.finish()
        }
        let current = state.withLock { $0.current }
        if let current {
            await current.group.triggerGracefulShutdown()
            await current.finished.value
        }
    }
}
