import Foundation
import NormTesting
import Testing

/// Real HTTP against the daemon's admin server, through `curl` (as an operator or a probe would).
struct AdminHTTP {
    let base: String

    /// The address `msg="admin listening" address=…` logged.
    init(_ daemon: DaemonUnderTest) throws {
        let line = daemon.log.split(separator: "\n").map { LogLine(String($0)) }.first { $0.message == "admin listening" }
        base = "http://" + (try #require(line?["address"], "no admin listening line: \(daemon.log)"))
    }

    /// A server at `base` (`http://127.0.0.1:9464`), e.g. after a reload moved it.
    init(base: String) { self.base = base }

    /// The same for a ``DaemonProcess``.
    init(_ daemon: DaemonProcess) throws {
        let line = daemon.logLines.first { $0.message == "admin listening" }
        base = "http://" + (try #require(line?["address"], "no admin listening line: \(daemon.stderr)"))
    }

    struct Answer {
        var status: Int
        var contentType: String
        var body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
    }

    func get(_ path: String) throws -> Answer { try request("GET", path) }

    func post(_ path: String, _ body: String? = nil) throws -> Answer { try request("POST", path, body: body) }

    func request(_ method: String, _ path: String, body: String? = nil) throws -> Answer {
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("normd-http-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        var arguments = ["-s", "-S", "--max-time", "30", "-X", method, "-o", bodyFile.path, "-w", "%{http_code} %{content_type}"]
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl"] + arguments + [base + path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let written = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "curl \(method) \(path) failed (\(process.terminationStatus))")
        let parts = written.split(separator: " ", maxSplits: 1)
        return Answer(
            status: Int(parts.first ?? "") ?? 0, contentType: parts.count > 1 ? String(parts[1]) : "",
            body: (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? "")
    }

    /// `/metrics` as `series → value` (`normd_rows_received_total{pipeline="p",input="0"}` → `24`).
    func metrics() throws -> [String: Double] {
        let answer = try get("/metrics")
        #expect(answer.status == 200 && answer.contentType == "text/plain; version=0.0.4; charset=utf-8")
        var series: [String: Double] = [:]
        for line in answer.body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            series[String(line[..<space])] = value
        }
        return series
    }

    /// Polls `/metrics` until `condition` holds (the pipelines publish their counts between batches
    /// and at least every 500 ms), for at most 20 s; returns the last scrape.
    func metrics(until condition: ([String: Double]) -> Bool) throws -> [String: Double] {
        let deadline = ContinuousClock.now + .seconds(20)
        var scraped = try metrics()
        while !condition(scraped) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            scraped = try metrics()
        }
        return scraped
    }
}
