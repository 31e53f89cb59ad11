import AdminServer
import Logging
import NormConfig
import ServiceLifecycle

/// Puts the admin host (`AdminHost`) into the daemon's `ServiceGroup` as its first service — with or
/// without an `admin:` section, so a reload can add one — and, with the section, starts the group
/// early with the server listening, so `/readyz` answers while the checkpoint is restored and the
/// sockets are bound; the pipelines' services join the running group afterwards
/// (`addServiceUnlessShutdown`). Shutting the group down stops the admin host last: services stop
/// in reverse order of joining.
enum AdminStartup {
    /// The server settings for `admin:` (the token, if any, is the gate's, which reloads re-read).
    static func settings(_ configuration: AdminConfiguration, token: AdminTokenGate?) -> AdminServer.Settings {
        .init(host: configuration.host, port: configuration.port, control: configuration.control, token: token?.token)
    }

    /// Adds `host` to `group`; with `settings`, runs the group and returns once the server listens.
    /// - Returns: the group's run, to await instead of `group.run()`; `nil` without `admin:`.
    /// - Throws: `ExitStatus.unavailable` (69) when the address cannot be bound, logged like a socket.
    static func start(
        _ settings: AdminConfiguration?, token: AdminTokenGate?, host: AdminHost, group: ServiceGroup, logger: Logger
    ) async throws -> Task<Void, any Error>? {
        await group.addServiceUnlessShutdown(
            .init(service: host, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        guard let settings else { return nil }
        let run = Task { try await group.run() }
        do {
            try await host.start(Self.settings(settings, token: token))
        } catch {
            logger.critical("cannot start: \(error)")
            await group.triggerGracefulShutdown()
            throw ExitStatus.unavailable
        }
        return run
    }
}
