import AdminServer
import Logging
import NormConfig

/// The admin token of a running daemon and the file it came from. Every reload (SIGHUP, `POST /reload`)
/// re-reads the file first — like `authorized_keys` — so a token is rotated without a restart, and
/// a rotation takes effect even when the rest of the reload is refused. A file that became unreadable,
/// too open or malformed keeps the previous token (logged as an error): a reload never leaves the
/// control endpoints without one.
struct AdminTokenGate: Sendable {
    let file: String
    let token: BearerToken

    /// `nil` when `admin:` names no `token_file`.
    init?(_ settings: AdminConfiguration) {
        guard let file = settings.tokenFile, let token = settings.token else { return nil }
        self.file = file
        self.token = BearerToken(token)
    }

    func reread(requestedBy: String, logger: Logger) {
        do {
            token.replace(with: try AdminConfiguration.readToken(file))
            logger.notice("admin token re-read", metadata: ["requested_by": "\(requestedBy)", "file": "\(file)"])
        } catch {
            logger.error("admin token not re-read; the previous token stays: \(error.message)", metadata: ["requested_by": "\(requestedBy)"])
        }
    }
}
