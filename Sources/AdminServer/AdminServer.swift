import Foundation
public import Hummingbird
public import Logging
import Prometheus
public import ServiceLifecycle
import Synchronization

/// The admin HTTP server (README, "Operating normd"): a swift-service-lifecycle `Service`, so it runs
/// in the daemon's `ServiceGroup` and stops with it. It knows HTTP and JSON only; everything about
/// pipelines comes from the `AdminBackend`, and it never runs on (or waits for) a pipeline's thread
/// except where an endpoint's answer is defined by that thread (statistics, mode switch).
///
/// Every non-2xx answer other than `/healthz` and `/readyz` has the body `{"error":"<message>"}`.
public struct AdminServer: Service {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        /// `false`: the POST endpoints answer 403.
        public var control: Bool
        /// Set: every POST needs `Authorization: Bearer <token>` (401 otherwise); GETs stay open.
        public var token: BearerToken?
        public init(host: String, port: Int, control: Bool, token: BearerToken? = nil) {
            self.host = host
            self.port = port
            self.control = control
            self.token = token
        }
    }

    /// Why the server stopped with an error (the daemon exits 69 for it, like a socket it cannot bind).
    public struct ListenError: Error, CustomStringConvertible {
        public let address: String
        public let underlying: String
        public init(address: String, underlying: String) {
            self.address = address
            self.underlying = underlying
        }
        public var description: String { "admin: cannot listen on \(address): \(underlying)" }
    }

    let settings: Settings
    let backend: any AdminBackend
    let metrics: NormdMetrics
    let logger: Logger
    /// Called with the bound `HOST:PORT` once the server listens (after `msg="admin listening"` is logged).
    let onListening: @Sendable (String) -> Void
    /// Serializes scrapes: a refresh sets counters to their totals, then the registry is emitted.
    let scrapeLock = ScrapeLock()
    /// Bodies larger than this (a mode switch is ~20 bytes) are refused with 413 before being read whole.
    static let maxBodyBytes = 4096

    public init(
        settings: Settings, backend: any AdminBackend, metrics: NormdMetrics, logger: Logger,
        onListening: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.onListening = onListening
        self.settings = settings
        self.backend = backend
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let logger = self.logger, onListening = self.onListening
        // Hummingbird's own lines ("Server started …") would repeat ours; its warnings still show.
        var frameworkLogger = logger
        frameworkLogger.logLevel = max(logger.logLevel, .warning)
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in
                let address = channel.localAddress
                let host = address?.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "?"
                logger.info("admin listening", metadata: ["address": "\(host):\(address?.port ?? 0)"])
                onListening("\(host):\(address?.port ?? 0)")
            },
            logger: frameworkLogger)
        do {
            try await app.run()
        } catch {
            throw ListenError(address: "\(settings.host):\(settings.port)", underlying: "\(error)")
        }
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorBodyMiddleware())
        router.get("/metrics") { _, _ in scrape() }
        router.get("/healthz") { _, _ in
            let reasons = backend.unhealthyReasons()
            return reasons.isEmpty
                ? Self.json(.ok, ["status": "ok"])
                : Self.json(.serviceUnavailable, Probe(status: "unhealthy", reasons: reasons))
        }
        router.get("/readyz") { _, _ in
            let reasons = backend.notReadyReasons()
            return reasons.isEmpty
                ? Self.json(.ok, ["status": "ready"])
                : Self.json(.serviceUnavailable, Probe(status: "not_ready", reasons: reasons))
        }
        router.get("/pipelines") { _, _ in Self.json(.ok, backend.pipelines()) }
        router.get("/pipelines/:name/statistics") { _, context in
            let name = try context.parameters.require("name")
            switch await backend.statistics(of: name) {
            case .record(let bytes):
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            case .unknownPipeline: return Self.error(.notFound, "no pipeline named '\(name)'")
            case .unavailable(let why): return Self.error(.serviceUnavailable, why)
            }
        }
        router.post("/pipelines/:name/mode") { request, context in
            let name = try context.parameters.require("name")
            if let refusal = controlRefusal(request) { return refusal }
            let body: ModeBody
            switch await Self.decode(ModeBody.self, from: request) {
            case .success(let decoded): body = decoded
            case .failure(let failure): return failure.response
            }
            guard body.mode == "train" || body.mode == "infer" else {
                return Self.error(.badRequest, "\"mode\" must be \"train\" or \"infer\", got \"\(body.mode.prefix(64))\"")
            }
            switch await backend.switchMode(of: name, to: body.mode) {
            case .switched(let mode, let fromBatch):
                return Self.json(.ok, ModeSwitched(pipeline: name, mode: mode, fromBatch: fromBatch))
            case .unknownPipeline: return Self.error(.notFound, "no pipeline named '\(name)'")
            case .unavailable(let why): return Self.error(.serviceUnavailable, why)
            case .conflict(let why): return Self.error(.conflict, why)
            }
        }
        router.post("/checkpoint") { request, _ in
            if let refusal = controlRefusal(request) { return refusal }
            switch await backend.checkpointNow() {
            case .written(let file, let generation): return Self.json(.ok, CheckpointWritten(file: file, generation: generation))
            case .notConfigured: return Self.error(.conflict, "no checkpoint: section is configured")
            case .failed(let why): return Self.error(.internalServerError, "checkpoint write failed: \(why)")
            }
        }
        router.post("/reload") { request, _ in
            if let refusal = controlRefusal(request) { return refusal }
            let answer = await backend.reload()
            return Response(
                status: answer.succeeded ? .ok : .unprocessableContent, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        return router
    }

    private func scrape() -> Response {
        let bytes = scrapeLock.mutex.withLock { _ in
            backend.refreshMetrics()
            return metrics.registry.emitToBuffer()
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Why a POST is refused, before its body is read: 403 when control is off (whatever the token),
    /// then 401 with `WWW-Authenticate` (RFC 6750 §3) when a token is configured and the request
    /// does not carry it.
    private func controlRefusal(_ request: Request) -> Response? {
        guard settings.control else { return Self.error(.forbidden, "control endpoints are disabled (admin.control: false)") }
        guard let token = settings.token else { return nil }
        let challenge: String, message: String
        switch token.check(request.headers[.authorization]) {
        case .admitted: return nil
        case .missing:
            challenge = #"Bearer realm="normd""#
            message = "this endpoint needs 'Authorization: Bearer <token>' (the token in admin.token_file)"
        case .wrong:
            challenge = #"Bearer realm="normd", error="invalid_token""#
            message = "the bearer token is wrong"
        }
        var response = Self.error(.unauthorized, message)
        response.headers[.wwwAuthenticate] = challenge
        return response
    }

    // MARK: bodies

    struct Probe: Encodable { let status: String; let reasons: [String] }
    struct ModeBody: Decodable { let mode: String }
    struct ModeSwitched: Encodable {
        let pipeline: String, mode: String, fromBatch: UInt64
        enum CodingKeys: String, CodingKey { case pipeline, mode, fromBatch = "from_batch" }
    }
    struct CheckpointWritten: Encodable { let file: String; let generation: UInt64 }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(value)).map { [UInt8]($0) } ?? Array(#"{"error":"response could not be encoded"}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(status, ["error": message])
    }

    /// Reads at most `maxBodyBytes` and decodes it; the failure is the 400/413 answer to send.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async -> Result<T, ResponseFailure> {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBodyBytes)
        } catch {
            return .failure(ResponseFailure(Self.error(.contentTooLarge, "request body above \(maxBodyBytes) bytes")))
        }
        do {
            return .success(try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView)))
        } catch {
            return .failure(
                ResponseFailure(Self.error(.badRequest, "body must be a JSON object {\"mode\": \"train\" | \"infer\"}: \(Self.describe(error))")))
        }
    }

    struct ResponseFailure: Error { let response: Response; init(_ response: Response) { self.response = response } }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case .typeMismatch(_, let context): "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case .dataCorrupted: "not valid JSON"
        default: "\(error)"
        }
    }
}

/// Turns every error a route throws, and the router's own 404, into `{"error":"<message>"}`.
struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message =
                error.body
                ?? (error.status == .notFound
                    ? "no such endpoint: \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return AdminServer.error(error.status, message)
        } catch {
            return AdminServer.error(.internalServerError, "\(error)")
        }
    }
}

/// A reference to the scrape mutex, so the server stays a copyable value.
final class ScrapeLock: Sendable {
    let mutex = Mutex(())
}
