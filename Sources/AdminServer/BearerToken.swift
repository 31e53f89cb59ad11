import Synchronization

/// The admin token every POST must carry as `Authorization: Bearer <token>` (issue 11 §3), shared
/// between the server (which checks it) and the daemon (which re-reads the token file on reload).
public final class BearerToken: Sendable {
    private let current: Mutex<[UInt8]>

    public init(_ token: String) { current = Mutex(Array(token.utf8)) }

    /// Takes a rotated token (a reload re-read the file).
    public func replace(with token: String) { current.withLock { $0 = Array(token.utf8) } }

    /// What an `Authorization` header value is, against the current token.
    public enum Verdict: Equatable, Sendable { case admitted, missing, wrong }

    /// Checks `Bearer <token>` (the scheme case-insensitively, RFC 7235 §2.1).
    ///
    /// The comparison takes the same time whatever the value: it runs over the longer of the two
    /// lengths and ORs the XOR of every byte pair (a missing byte counts as a difference), so the
    /// answer's timing does not tell an attacker how many leading bytes were right.
    public func check(_ authorization: String?) -> Verdict {
        guard let authorization else { return .missing }
        let scheme = "bearer "
        guard authorization.utf8.count > scheme.utf8.count,
            authorization.utf8.prefix(scheme.utf8.count).elementsEqual(scheme.utf8, by: { $0 | 0x20 == $1 | 0x20 })
        else {
            return .missing
        }
        let given = Array(authorization.utf8.dropFirst(scheme.utf8.count))
        return current.withLock { expected in
            var difference = UInt8(given.count == expected.count ? 0 : 1)
            for index in 0..<max(given.count, expected.count) {
                let left = index < given.count ? given[index] : 0, right = index < expected.count ? expected[index] : 0xff
                difference |= left ^ right
            }
            return difference == 0 ? .admitted : .wrong
        }
    }
}
