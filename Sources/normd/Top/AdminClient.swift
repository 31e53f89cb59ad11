import CDispatch // Glibc's timeval is attributed to CDispatch by the importer (see FileKind.swift)
import Foundation
import Glibc

/// A minimal HTTP/1.1 GET client for `normd top` against the daemon's own admin endpoint: one
/// blocking request per connection (`Connection: close`), bounded in time and size. A dependency
/// (URLSession drags libcurl in, AsyncHTTPClient an event loop) buys nothing for three GETs a second
/// on the loopback.
struct AdminClient {
    /// Where the admin endpoint listens, from `--admin http://HOST:PORT`.
    let host: String
    let port: Int
    /// `http://HOST:PORT`, for messages.
    var base: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// An answer larger than this is refused: `/metrics` of 64 pipelines is a few hundred KiB.
    static let maxResponseBytes = 32 << 20
    /// Longest a connect, a send or a read may take.
    static let timeoutSeconds = 5

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses `http://HOST:PORT` (an IPv6 host in brackets; a trailing `/` allowed).
    init(url: String) throws(Failure) {
        let usage = "--admin must be http://HOST:PORT (e.g. http://127.0.0.1:9464), got \"\(url.prefix(80))\""
        guard url.utf8.count <= 300, url.hasPrefix("http://") else { throw Failure(description: usage) }
        var rest = url.dropFirst("http://".count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring, portText: Substring
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]"), rest[close...].hasPrefix("]:") {
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else if let colon = rest.lastIndex(of: ":"), !rest[..<colon].contains(":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            throw Failure(description: usage)
        }
        guard !host.isEmpty, !host.contains("/"), let port = Int(portText), (1...65_535).contains(port) else { throw Failure(description: usage) }
        self.host = String(host)
        self.port = port
    }

    struct Answer {
        var status: Int
        var body: Data
    }

    /// `GET path`, the whole answer.
    func get(_ path: String) throws(Failure) -> Answer {
        let fd = try connect()
        defer { close(fd) }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: normd-top\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        var bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw failure("send to \(base) failed") }
            sent += count
        }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else { throw failure("no answer from \(base)\(path)") }
            response.append(contentsOf: chunk[..<count])
            guard response.count <= Self.maxResponseBytes else {
                throw Failure(description: "\(base)\(path): answer above \(Self.maxResponseBytes) bytes")
            }
        }
        return try Self.parse(response, from: "\(base)\(path)")
    }

    /// Status line, headers, then the body as `Content-Length` or chunked encoding says (or to the end).
    static func parse(_ response: Data, from source: String) throws(Failure) -> Answer {
        let separator = Data("\r\n\r\n".utf8)
        guard let end = response.range(of: separator) else { throw Failure(description: "\(source): not an HTTP answer") }
        let head = String(decoding: response[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw Failure(description: "\(source): not an HTTP answer")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(response[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = try dechunk(body, source: source)
        } else if let length = headers["content-length"].flatMap({ Int($0) }), length <= body.count {
            body = body.prefix(length)
        }
        return Answer(status: status, body: body)
    }

    private static func dechunk(_ data: Data, source: String) throws(Failure) -> Data {
        var body = Data()
        var index = data.startIndex
        while true {
            guard let lineEnd = data[index...].range(of: Data("\r\n".utf8)),
                let size = Int(String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? "", radix: 16),
                size >= 0, data.distance(from: lineEnd.upperBound, to: data.endIndex) >= size
            else {
                throw Failure(description: "\(source): malformed chunked answer")
            }
            if size == 0 { return body }
            body.append(data[lineEnd.upperBound..<data.index(lineEnd.upperBound, offsetBy: size)])
            index = data.index(lineEnd.upperBound, offsetBy: size + 2, limitedBy: data.endIndex) ?? data.endIndex
        }
    }

    private func connect() throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "\(port)", &hints, &list) == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            // SO_SNDTIMEO bounds connect() too on Linux; SO_RCVTIMEO each read.
            var timeout = timeval()
            timeout.tv_sec = Self.timeoutSeconds
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw Failure(description: "cannot reach the admin endpoint at \(base): \(lastError)")
    }

    private func failure(_ what: String) -> Failure {
        Failure(description: "\(what): \(String(cString: strerror(errno)))")
    }
}
