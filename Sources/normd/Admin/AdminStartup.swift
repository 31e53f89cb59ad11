import AdminServer
import Logging
import NormConfig
import ServiceLifecycle

/// Starts the daemon's `ServiceGroup` early, with the admin server as its first service, so
/// `/readyz` answers while the checkpoint is restored and the sockets are bound; the pipelines'
/// services join the running group afterwards (`addServiceUnlessShutdown`). Shutting the group down
/// stops the admin server last: services stop in reverse order of joining.
enum AdminStartup {
    /// Adds the server to `group`, runs the group, and returns once the server listens.
    /// - Returns: the group's run, to await instead of `group.run()`.
    /// - Throws: `ExitStatus.unavailable` (69) when the address cannot be bound, logged like a socket.
    static func start(
        _ settings: AdminConfiguration, token: AdminTokenGate?, backend: DaemonAdmin, group: ServiceGroup,
        logger: Logger
    ) async throws -> Task<Void, any Error> {
        let (listening, signal) = AsyncStream<(any Error)?>.makeStream()
        let server = AdminServer(
            settings: .init(host: settings.host, port: settings.port, control: settings.control, token: token?.token),
            backend: backend, metrics: backend.metrics, logger: logger,
            onListening: { signal.yield(nil) })
        await group.addServiceUnlessShutdown(
            .init(
                service: server, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup))
        let run = Task {
            do {
                try await group.run()
                signal.yield(AdminServer.ListenError(address: settings.listen, underlying: "the service group ended"))
            } catch {
                signal.yield(error)
                throw error
            }
        }
        for await failure in listening {
            guard let failure else { break }
            logger.critical("cannot start: \(failure)")
            throw ExitStatus.unavailable
        }
        return run
    }
}
