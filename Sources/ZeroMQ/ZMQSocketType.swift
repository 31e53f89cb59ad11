internal import CZeroMQ

/// The messaging pattern of a socket (`zmq_socket`'s `type`). Only the stable (non-DRAFT) types of
/// libzmq 4.3 are listed, because Debian's libzmq is built without the DRAFT API.
public enum ZMQSocketType: Sendable, CaseIterable, CustomStringConvertible {
    case pair
    case pub
    case sub
    case req
    case rep
    case dealer
    case router
    case pull
    case push
    case xpub
    case xsub
    case stream

    var rawType: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .stream: ZMQ_STREAM
        }
    }

    /// The libzmq name in upper case, as in its documentation (`"PUSH"`).
    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .pub: "PUB"
        case .sub: "SUB"
        case .req: "REQ"
        case .rep: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pull: "PULL"
        case .push: "PUSH"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        case .stream: "STREAM"
        }
    }
}
