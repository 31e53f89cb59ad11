import Foundation
public import StageKit

/// `security: curve:` — CURVE encryption on every ZeroMQ socket, with normd's own ZAP allow-list.
///
/// ```yaml
/// security:
///   curve:
///     secret_key_file: keys/server.key_secret   # zcert, as pyzmq's zmq.auth.create_certificates writes
///     authorized_keys: keys/authorized          # a directory of client *.key files
///     allow_ips: [127.0.0.1]                    # optional: peers must also come from one of these
/// ```
/// Why an allow-list of our own: without a ZAP handler libzmq admits any CURVE client that knows
/// the server's public key (libzmq#2711) — encryption without authentication. Keys are read here,
/// at validation, so a missing, unreadable or too-open key file is a located error of
/// `normd validate` (and exit 78 for `normd run`) rather than a failure after sockets are bound.
public struct CurveSecurity: Sendable, Equatable {
    /// The daemon's key pair (Z85, 40 characters each), from `secret_key_file`.
    public var publicKey: String
    public var secretKey: String
    public var secretKeyFile: String
    /// The directory `authorized_keys` names (resolved against the configuration file's directory).
    public var authorizedKeysDirectory: String
    /// The client public keys (Z85) allowed to connect, read from `*.key` in that directory.
    public var authorizedKeys: Set<String>
    /// Peer addresses allowed (normalized numeric IPs); empty: any address.
    public var allowIPs: [String]

    public init(
        publicKey: String, secretKey: String, secretKeyFile: String, authorizedKeysDirectory: String,
        authorizedKeys: Set<String>, allowIPs: [String]
    ) {
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.secretKeyFile = secretKeyFile
        self.authorizedKeysDirectory = authorizedKeysDirectory
        self.authorizedKeys = authorizedKeys
        self.allowIPs = allowIPs
    }

    static func read(from reader: ParameterReader, configFile: String?) -> CurveSecurity? {
        let mark = reader.diagnostics.mark()
        var keyPair: ZCert.KeyPair?
        var secretPath: String?
        if let path = requiredPath(reader, "secret_key_file", configFile: configFile) {
            secretPath = path
            do {
                try ZCert.checkPrivate(path)
                keyPair = try ZCert.readKeyPair(path)
            } catch {
                reader.error("secret_key_file", error.message)
            }
        }
        var authorized: Set<String> = []
        var directory: String?
        if let path = requiredPath(reader, "authorized_keys", configFile: configFile) {
            directory = path
            do {
                authorized = try ZCert.readAuthorizedKeys(directory: path)
                if authorized.isEmpty {
                    reader.warning("authorized_keys", "\(path) holds no *.key file: no client can connect")
                }
            } catch {
                reader.error("authorized_keys", error.message)
            }
        }
        let allowIPs = readAllowIPs(reader)
        reader.finish()
        guard mark.noNewErrors, let keyPair, let secretPath, let directory else { return nil }
        return CurveSecurity(
            publicKey: keyPair.publicKey, secretKey: keyPair.secretKey, secretKeyFile: secretPath,
            authorizedKeysDirectory: directory, authorizedKeys: authorized, allowIPs: allowIPs)
    }

    private static func requiredPath(_ reader: ParameterReader, _ key: String, configFile: String?) -> String? {
        guard let path = reader.optionalString(key) else {
            if !reader.contains(key) { reader.error(nil, "missing '\(key)'") }
            return nil
        }
        guard reader.require(key, !path.isEmpty, "must be a non-empty path"),
            reader.requireLength(key, path, atMost: ConfigLimits.maxPathBytes)
        else { return nil }
        return CheckpointConfiguration.resolve(path, relativeTo: configFile)
    }

    private static func readAllowIPs(_ reader: ParameterReader) -> [String] {
        guard let node = reader.value("allow_ips"), !node.isNull else { return [] }
        guard let items = node.listItems else {
            reader.error("allow_ips", "expected a list of IP addresses, got \(node.value.typeName) \(node.quoted)")
            return []
        }
        guard reader.requireCount("allow_ips", items, atMost: ConfigLimits.maxAllowIPs, of: "addresses") else { return [] }
        var addresses: [String] = []
        for (index, item) in items.enumerated() {
            if case .string(let text) = item.value, let address = normalizedIP(text) {
                addresses.append(address)
            } else {
                reader.diagnostics.error(
                    at: item.location, path: reader.path(of: "allow_ips").appending(index: index),
                    "expected a numeric IPv4 or IPv6 address, got \(item.quoted)")
            }
        }
        return addresses
    }

    /// The canonical text of a numeric IP address (`inet_pton` then `inet_ntop`), or `nil`. ZAP
    /// reports the peer's address this way, so equal addresses compare equal as strings.
    public static func normalizedIP(_ text: String) -> String? {
        guard text.utf8.count < 64 else { return nil }
        for family in [AF_INET, AF_INET6] {
            var buffer = [UInt8](repeating: 0, count: 16)
            guard inet_pton(family, text, &buffer) == 1 else { continue }
            var output = [CChar](repeating: 0, count: 64)
            guard inet_ntop(family, buffer, &output, socklen_t(output.count)) != nil else { return nil }
            return String(cString: output)
        }
        return nil
    }

    /// Re-reads `authorizedKeysDirectory` (for revocation without a restart).
    /// - Throws: ``KeyFileError`` naming the file; the caller then keeps the keys it had.
    public func rereadAuthorizedKeys() throws(KeyFileError) -> Set<String> {
        try ZCert.readAuthorizedKeys(directory: authorizedKeysDirectory)
    }
}

/// An endpoint's own CURVE settings: `curve: false` (plain, where allowed) and, for a connecting
/// endpoint, `curve_server_key: PATH` (then normd is the CURVE *client* of that server).
public struct EndpointSecurity: Sendable, Equatable {
    /// `curve:` as written; `true` when absent.
    public var curve = true
    /// The upstream server's public key (Z85), from `curve_server_key`.
    public var serverKey: String?
    /// Where `curve`/`curve_server_key` were written, for the checks that need the whole file.
    var curveLocation: SourceLocation?
    var serverKeyLocation: SourceLocation?

    public init() {}

    static let keys = ["curve", "curve_server_key"]

    static func read(from reader: ParameterReader) -> EndpointSecurity {
        let configFile = reader.node.location?.file
        var security = EndpointSecurity()
        if let curve = reader.optionalBool("curve") {
            security.curve = curve
            security.curveLocation = reader.location(of: "curve")
        }
        if let path = reader.optionalString("curve_server_key"),
            reader.requireLength("curve_server_key", path, atMost: ConfigLimits.maxPathBytes)
        {
            security.serverKeyLocation = reader.location(of: "curve_server_key")
            do {
                security.serverKey = try ZCert.readPublicKey(CheckpointConfiguration.resolve(path, relativeTo: configFile))
            } catch {
                reader.error("curve_server_key", error.message)
            }
        }
        return security
    }
}

extension NormdConfiguration {
    /// `security:` — holds `curve:` (the only mechanism so far), which it requires.
    static func readSecurity(_ reader: ParameterReader, configFile: String?) -> CurveSecurity? {
        guard let security = reader.nested("security") else { return nil }
        let curve = security.nested("curve")
        if curve == nil && !security.contains("curve") { security.error(nil, "missing 'curve' (secret_key_file, authorized_keys)") }
        let result = curve.flatMap { CurveSecurity.read(from: $0, configFile: configFile) }
        security.finish()
        return result
    }

    /// Checks each endpoint's `curve`/`curve_server_key` against `security:` and the transport:
    /// - without `security.curve` neither key means anything, so both are refused;
    /// - `curve: false` on `tcp://` is refused unless every tcp endpoint of the pipeline is loopback
    ///   (then nothing leaves the host); `ipc://` and `inproc://` may always opt out;
    /// - `curve_server_key` belongs to a connecting endpoint that uses CURVE.
    static func checkEndpointSecurity(
        _ pipelines: [PipelineConfiguration], curve: CurveSecurity?,
        diagnostics: ConfigDiagnostics
    ) {
        for pipeline in pipelines {
            // A sync member's `curve_server_key` means nothing without `security: curve:`.
            for source in pipeline.sync?.serverKeySources ?? [] where curve == nil {
                diagnostics.error(at: source.location, path: source.path, "needs a 'security: curve:' section")
            }
            var endpoints: [(endpoint: String, bind: Bool, security: EndpointSecurity, path: ConfigPath)] =
                pipeline.inputs.map { ($0.endpoint, $0.bind, $0.security, $0.path) }
            if let output = pipeline.output { endpoints.append((output.endpoint, output.bind, output.security, output.path)) }
            let allLoopback = endpoints.allSatisfy { !$0.endpoint.hasPrefix("tcp://") || isLoopback($0.endpoint) }
            for item in endpoints {
                let security = item.security
                if curve == nil {
                    if let location = security.curveLocation {
                        diagnostics.error(at: location, path: item.path.appending("curve"), "needs a 'security: curve:' section")
                    }
                    if let location = security.serverKeyLocation {
                        diagnostics.error(at: location, path: item.path.appending("curve_server_key"), "needs a 'security: curve:' section")
                    }
                    continue
                }
                if !security.curve, item.endpoint.hasPrefix("tcp://"), !allLoopback {
                    diagnostics.error(
                        at: security.curveLocation, path: item.path.appending("curve"),
                        "a tcp endpoint may not opt out of CURVE unless every tcp endpoint of the pipeline is loopback")
                }
                if let location = security.serverKeyLocation {
                    if item.bind {
                        diagnostics.error(
                            at: location, path: item.path.appending("curve_server_key"),
                            "only a connecting endpoint (bind: false) names the server's key")
                    } else if !security.curve {
                        diagnostics.error(
                            at: location, path: item.path.appending("curve_server_key"),
                            "contradicts 'curve: false'")
                    }
                }
            }
        }
    }

    /// Whether a tcp endpoint's host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
    static func isLoopback(_ endpoint: String) -> Bool {
        let address = endpoint.dropFirst(6).split(separator: ";", omittingEmptySubsequences: false).last ?? ""
        guard let colon = address.lastIndex(of: ":") else { return false }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host == "localhost" || host == "::1" || (host.hasPrefix("127.") && CurveSecurity.normalizedIP(host) != nil)
    }
}

/// A key file that cannot be used, with a message naming it.
public struct KeyFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The zcert text format (czmq's `zcert_save`, pyzmq's `zmq.auth.create_certificates`):
///
/// ```
/// #   ZeroMQ CURVE **Secret** Certificate
/// metadata
/// curve
///     public-key = "<40 Z85 characters>"
///     secret-key = "<40 Z85 characters>"      (only in NAME.key_secret)
/// ```
/// Only the two key lines are read; comments and metadata are skipped.
public enum ZCert {
    public struct KeyPair: Sendable, Equatable {
        public var publicKey: String
        public var secretKey: String
    }

    /// A key file larger than this is not a certificate (bounds what a wrong path makes us read).
    public static let maxFileBytes = 64 << 10

    /// Refuses a secret key file that group or others may access (the ssh rule): whoever can read
    /// it can impersonate the daemon.
    public static func checkPrivate(_ path: String) throws(KeyFileError) {
        try SecretFile.checkPrivate(path, what: "secret key file")
    }

    public static func readKeyPair(_ path: String) throws(KeyFileError) -> KeyPair {
        let fields = try read(path)
        guard let publicKey = fields["public-key"] else { throw KeyFileError("\(path) has no public-key line (not a zcert file?)") }
        guard let secretKey = fields["secret-key"] else { throw KeyFileError("\(path) has no secret-key line (is it the .key_secret file?)") }
        return KeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    public static func readPublicKey(_ path: String) throws(KeyFileError) -> String {
        guard let key = try read(path)["public-key"] else { throw KeyFileError("\(path) has no public-key line (not a zcert file?)") }
        return key
    }

    /// Public keys of every `*.key` file in `directory` (not `*.key_secret`), at most `ConfigLimits.maxAuthorizedKeys`.
    public static func readAuthorizedKeys(directory: String) throws(KeyFileError) -> Set<String> {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw KeyFileError("cannot list \(directory): \(SecretFile.describe(error))")
        }
        let keyFiles = names.filter { $0.hasSuffix(".key") }.sorted()
        guard keyFiles.count <= ConfigLimits.maxAuthorizedKeys else {
            throw KeyFileError("\(directory) holds \(keyFiles.count) *.key files; at most \(ConfigLimits.maxAuthorizedKeys) are read")
        }
        var keys: Set<String> = []
        for name in keyFiles { keys.insert(try readPublicKey(directory + "/" + name)) }
        return keys
    }

    /// The `name = "value"` lines of a zcert file whose value is a Z85 key.
    private static func read(_ path: String) throws(KeyFileError) -> [String: String] {
        let data = try SecretFile.read(path, maxBytes: maxFileBytes, notWhat: "a key file")
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            for name in ["public-key", "secret-key"] where trimmed.hasPrefix(name) {
                let rest = trimmed.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
                guard rest.hasPrefix("=") else { continue }
                let value = rest.dropFirst().trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                guard isZ85Key(value) else { throw KeyFileError("\(path): \(name) is not 40 Z85 characters") }
                fields[name] = value
            }
        }
        return fields
    }

    /// 40 characters of the Z85 alphabet (ZeroMQ RFC 32): a 32-byte CURVE key.
    public static func isZ85Key(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { z85Alphabet.contains($0) }
    }

    private static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
}
