internal import CZeroMQ

/// CURVE (ZeroMQ RFC 26, CurveZMQ): per-connection encryption and authentication of the peer's
/// long-term key. Keys are given in Z85 (ZeroMQ RFC 32): 40 printable characters for 32 bytes.
public enum ZMQCurve {
    /// Whether this libzmq was built with CURVE (libsodium): `zmq_has("curve")`.
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// A new key pair from `zmq_curve_keypair` (Z85, 40 characters each).
    /// - Throws: ``ZMQError`` `ENOTSUP` when libzmq has no CURVE.
    public static func keyPair() throws -> (publicKey: String, secretKey: String) {
        var publicKey = [CChar](repeating: 0, count: 41), secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        defer { for index in secretKey.indices { secretKey[index] = 0 } }
        return (String(cString: publicKey), String(cString: secretKey))
    }

    /// The Z85 text of a 32-byte key (a ZAP request's CURVE credential); `nil` for any other length.
    public static func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, key, key.count) != nil else { return nil }
        return String(cString: text)
    }
}

extension ZMQSocket {
    /// Makes this socket the CURVE *server* of its connections (`ZMQ_CURVE_SERVER` with
    /// `ZMQ_CURVE_SECRETKEY`), whether it binds or connects: peers must be CURVE clients that know
    /// the matching public key. Set before bind/connect.
    public func setCurveServer(secretKey: String) throws {
        try setInt32(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1)
        try setKey(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", secretKey)
    }

    /// Makes this socket a CURVE *client* of the server whose public key is `serverKey`, with its
    /// own long-term key pair (`ZMQ_CURVE_SERVERKEY`, `ZMQ_CURVE_PUBLICKEY`, `ZMQ_CURVE_SECRETKEY`).
    public func setCurveClient(serverKey: String, publicKey: String, secretKey: String) throws {
        try setKey(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", serverKey)
        try setKey(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", publicKey)
        try setKey(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", secretKey)
    }

    /// libzmq takes a Z85 key as 40 characters plus a NUL (41 bytes). The error never shows the key.
    private func setKey(_ option: Int32, _ name: String, _ z85: String) throws {
        var bytes = Array(z85.utf8)
        guard bytes.count == 40 else { throw ZMQError(errno: EINVAL, operation: "setsockopt \(name) (not 40 Z85 characters)") }
        bytes.append(0)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        try bytes.withUnsafeBytes { try setBytes(option, name, $0) }
    }
}

extension ZMQMessage {
    /// A metadata property of a received message (`zmq_msg_gets`), e.g. `"User-Id"` — what the
    /// ZAP handler answered for the connection it came on — or `"Peer-Address"`; `nil` if unset.
    public func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(pointer, name) else { return nil }
        return String(cString: value)
    }
}
