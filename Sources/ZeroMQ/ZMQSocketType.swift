internal import CZeroMQ

/// The messaging pattern of a socket (`zmq_socket`'s `type`): the stable (non-DRAFT, Debian's libzmq
/// is built without it) types normd uses or is about to (DEALER/ROUTER/REP for sync, ZAP and reload).
/// REQ, XSUB and STREAM are left out until something needs them.
public enum ZMQSocketType: Sendable, CaseIterable, CustomStringConvertible {
    case pair
    case pub
    case sub
    case rep
    case dealer
    case router
    case pull
    case push
    case xpub

    var rawType: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .xpub: ZMQ_XPUB
        }
    }

    /// The libzmq name in upper case, as in its documentation (`"PUSH"`).
    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .pub: "PUB"
        case .sub: "SUB"
        case .rep: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pull: "PULL"
        case .push: "PUSH"
        case .xpub: "XPUB"
        }
    }
}
