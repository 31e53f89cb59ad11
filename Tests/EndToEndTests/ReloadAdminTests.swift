import Foundation
import NormTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A reload that changes `admin:` (issue 9 §4 "Top-level sections"): a changed `admin.listen`
/// re-binds the server (the new address answers, the old one is closed, the bound port is logged),
/// a removed section stops it, an added one starts it; an address that cannot be bound is a
/// located refusal and the server stays where it was.
@Suite(.serialized) struct ReloadAdminTests {
    static func config(admin: String?, in directory: String) -> String {
        (admin.map { "admin: \($0)\n" } ?? "") + "pipelines:\n" + ReloadMetricsTests.pipeline("p", inputs: 1, in: directory)
    }

    /// A TCP socket listening on 127.0.0.1 at a port the kernel chose: (descriptor, port).
    static func listeningSocket() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound && listen(fd, 1) == 0)
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A port nothing listens on now.
    static func freePort() throws -> Int {
        let (fd, port) = try listeningSocket()
        close(fd)
        return port
    }

    /// Whether anything accepts a TCP connection at `127.0.0.1:port`.
    static func accepting(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func port(_ http: AdminHTTP) -> Int { Int(http.base.split(separator: ":").last ?? "") ?? 0 }

    /// The `admin listening` lines so far.
    static func listening(_ daemon: DaemonProcess) -> [String] {
        daemon.logLines.filter { $0.message == "admin listening" }.compactMap { $0["address"] }
    }

    /// SIGHUP, then the `reload succeeded` / `reload failed` line it caused (the `count`th reload).
    static func sighup(_ daemon: DaemonProcess, _ count: Int) throws -> LogLine {
        daemon.send(SIGHUP)
        do {
            return try waitFor("reload \(count)", timeout: .seconds(30)) { () -> LogLine? in
                let outcomes = daemon.logLines.filter { $0.message == "reload succeeded" || $0.message == "reload failed" }
                return outcomes.count >= count ? outcomes[count - 1] : nil
            }
        } catch {
            Issue.record("\(error)\nnormd stderr:\n\(daemon.stderr)")
            throw error
        }
    }

    @Test func aChangedListenRebindsTheServerAndTheSectionStartsAndStops() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let daemon = try DaemonProcess.started(config: Self.config(admin: #"{listen: "127.0.0.1:0"}"#, in: dir), scratch: scratch)
        let first = try AdminHTTP(daemon)
        let firstPort = Self.port(first)

        // listen moves to another port: POST /reload is answered by the old server, then the new one answers.
        let secondPort = try Self.freePort()
        try Self.config(admin: #"{listen: "127.0.0.1:\#(secondPort)"}"#, in: dir).write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let moved = try first.post("/reload")
        #expect(moved.status == 200)
        #expect(moved.body == #"{"result":"success","kept":[{"kind":"min_max","pipeline":"p","stage":0}],"reset":[],"added":[],"removed":[]}"#)
        let second = AdminHTTP(base: "http://127.0.0.1:\(secondPort)")
        #expect(try second.get("/healthz").body == #"{"status":"ok"}"#)
        #expect(Self.listening(daemon) == ["127.0.0.1:\(firstPort)", "127.0.0.1:\(secondPort)"])
        _ = try waitFor("the old admin port to close", timeout: .seconds(15)) { Self.accepting(firstPort) ? nil : true }
        let metrics = try second.metrics()
        #expect(metrics[#"normd_config_reloads_total{result="success"}"#] == 1)

        // A port another process holds: refused, located; the server stays on the second port.
        let (holder, takenPort) = try Self.listeningSocket()
        defer { close(holder) }
        try Self.config(admin: #"{listen: "127.0.0.1:\#(takenPort)"}"#, in: dir).write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let refused = try second.post("/reload")
        #expect(refused.status == 422)
        let problems = try #require((refused.json as? [String: Any])?["problems"] as? [String])
        #expect(problems.count == 1)
        #expect(
            problems.first?.hasPrefix(
                "\(daemon.configPath): admin.listen: cannot listen on 127.0.0.1:\(takenPort): ") == true, "\(problems)")
        #expect(
            problems.first?.hasSuffix("; the admin server stays on 127.0.0.1:\(secondPort); nothing changed") == true, "\(problems)")
        #expect(try second.get("/readyz").status == 200)
        #expect(Self.listening(daemon).count == 2)

        // control changed on the same fixed port: the new server cannot bind before the old one stops.
        try Self.config(admin: #"{listen: "127.0.0.1:\#(secondPort)", control: false}"#, in: dir).write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let sameAddress = try second.post("/reload")
        #expect(sameAddress.status == 422)
        #expect(
            sameAddress.body
                == #"{"result":"failure","problems":["\#(daemon.configPath): admin: changing admin.control or admin.token_file without changing admin.listen (a new server is bound before the old one stops) needs a restart; a reload changes pipelines (stages, batching, mode, endpoints; added and removed) but not this"]}"#
        )

        // Section removed (SIGHUP): the server stops; added again: it starts on a new port.
        try Self.config(admin: nil, in: dir).write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let fourth = try Self.sighup(daemon, 4)
        #expect(fourth.message == "reload succeeded", "\(daemon.stderr)")
        _ = try waitFor("the admin server to stop", timeout: .seconds(15)) { Self.accepting(secondPort) ? nil : true }
        #expect(daemon.logLines.contains { $0.message == "admin stopped" && $0["address"] == "127.0.0.1:\(secondPort)" }, "\(daemon.stderr)")
        try Self.config(admin: #"{listen: "127.0.0.1:0", control: false}"#, in: dir).write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        #expect(try Self.sighup(daemon, 5).message == "reload succeeded", "\(daemon.stderr)")
        let addresses = Self.listening(daemon)
        #expect(addresses.count == 3)
        let third = AdminHTTP(base: "http://" + (addresses.last ?? ""))
        #expect(try third.get("/healthz").body == #"{"status":"ok"}"#)
        #expect(try third.post("/checkpoint").status == 403, "the added section's control: false holds")
        let after = try third.metrics()
        #expect(after[#"normd_config_reloads_total{result="success"}"#] == 3)
        #expect(after[#"normd_config_reloads_total{result="failure"}"#] == 2)
        #expect(after[#"normd_messages_received_total{pipeline="p",input="0"}"#] == 0)
        #expect(try daemon.terminate() == 0, "\(daemon.stderr)")
    }
}
