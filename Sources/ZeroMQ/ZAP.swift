internal import CZeroMQ

/// The ZeroMQ Authentication Protocol (ZAP, RFC 27/ZAP) as libzmq 4.3 speaks it: a socket with
/// a ZAP domain sends a request per new connection to the REP socket bound at ``endpoint`` on the
/// same context, and accepts the connection only on status 200.
public enum ZAP {
    /// Where libzmq sends ZAP requests (one handler per context).
    public static let endpoint = "inproc://zeromq.zap.01"

    /// One request: `[version "1.0"][request id][domain][address][routing id][mechanism][credentials…]`.
    public struct Request: Sendable, Equatable {
        public var requestID: [UInt8]
        /// The ZAP domain of the socket that accepted the connection.
        public var domain: String
        /// The peer's IP address (no port) for TCP; empty for IPC.
        public var address: String
        public var routingID: [UInt8]
        /// `NULL`, `PLAIN` or `CURVE`.
        public var mechanism: String
        /// The mechanism's credentials (a CURVE client's public key, PLAIN's user and password).
        public var credentials: [[UInt8]]

        /// Parses the frames of one request.
        /// - Throws: ``ZMQError`` `EPROTO` for anything that is not a version 1.0 request.
        public init(frames: [[UInt8]]) throws {
            guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
                throw ZMQError(errno: EPROTO, operation: "ZAP request with \(frames.count) frames")
            }
            requestID = frames[1]
            domain = String(decoding: frames[2], as: UTF8.self)
            address = String(decoding: frames[3], as: UTF8.self)
            routingID = frames[4]
            mechanism = String(decoding: frames[5], as: UTF8.self)
            credentials = Array(frames.dropFirst(6))
        }
    }

    /// A handler's answer.
    public struct Decision: Sendable, Equatable {
        /// 200 allows the connection, 300 is a temporary failure, 400 refuses, 500 is an internal error.
        public var status: Int
        public var text: String
        /// The User-Id of an allowed connection: libzmq attaches it to every message received on
        /// the connection (`zmq_msg_gets("User-Id")`), so a handler can recognise the peer later.
        public var userID = ""
        /// A short label for the handler's own counting (e.g. `unknown_key`); never sent.
        public var reason = ""

        public init(status: Int, text: String, userID: String = "", reason: String = "") {
            self.status = status
            self.text = text
            self.userID = userID
            self.reason = reason
        }

        public static let allow = Decision(status: 200, text: "OK")
        public static func allow(userID: String) -> Decision { Decision(status: 200, text: "OK", userID: userID) }
        public static func refuse(_ text: String, reason: String = "") -> Decision { Decision(status: 400, text: text, reason: reason) }

        public var isAllowed: Bool { status == 200 }

        /// The reply frames to `request`: `[version][request id][status][text][user id][metadata]`.
        public func replyFrames(to request: Request) -> [[UInt8]] {
            [Array("1.0".utf8), request.requestID, Array(String(status).utf8), Array(text.utf8), Array(userID.utf8), []]
        }
    }
}
