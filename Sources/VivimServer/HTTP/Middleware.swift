import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import VivimCore

extension HTTPField.Name {
    static let requestID = Self("X-Request-ID")!
}

/// Outermost middleware: assigns the request id (echoing a well-formed `X-Request-ID`),
/// turns every error into the JSON error envelope, and records request metrics.
/// Nothing a client sends gets past it as a 500 unless the server itself is broken.
struct EnvelopeMiddleware: RouterMiddleware {
    typealias Context = VivimRequestContext
    let metrics: ServerMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = Self.requestID(from: request.headers[.requestID])
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let classified = ErrorResponder.classify(error)
            if classified.code == .internalError {
                logger.error("unhandled error", metadata: ["requestId": "\(context.requestID)", "error": "\(String(reflecting: error))"])
            }
            response = ErrorResponder.response(for: classified, requestID: context.requestID, report: (error as? ReportedError)?.report)
            if let limited = error as? RateLimitExceeded {
                for header in limited.decision.headers { response.headers[HTTPField.Name(header.name)!] = header.value }
            }
        }
        response.headers[.requestID] = context.requestID
        logger.debug("request", metadata: ["requestId": "\(context.requestID)", "method": "\(request.method.rawValue)",
                                           "path": "\(request.uri.path)", "status": "\(response.status.code)"])
        metrics.record(method: request.method.rawValue, route: context.endpointPath ?? "unmatched",
                       status: response.status.code, duration: ContinuousClock.now - start)
        return response
    }

    /// Echoes 1–128 characters of `[A-Za-z0-9._:-]`; otherwise generates a UUID.
    static func requestID(from header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
           header.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d || $0 == 0x3a }) {
            return header
        }
        return UUID().uuidString.lowercased()
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool { (0x30...0x39).contains(self) || (0x41...0x5a).contains(self) || (0x61...0x7a).contains(self) }
}

/// Request counters and latency histograms, exported at `/metrics`.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func record(method: String, route: String, status: Int, duration: Duration) {
        let labels = [("method", method), ("route", route), ("status", String(status))]
        registry.makeCounter(name: "vivim_http_requests_total", labels: labels).increment()
        registry.makeDurationHistogram(
            name: "vivim_http_request_duration_seconds", labels: [("method", method), ("route", route)],
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2)]
        ).recordNanoseconds(duration.nanoseconds)
    }

    func exposition() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

import VivimPipeline

/// Pipeline stage timings, sizes, failures and retries (SPEC §7.1).
extension ServerMetrics: PipelineObserver {
    func stageFinished(_ stage: PipelineStage, seconds: Double, bytes: Int?, failed: Bool) {
        registry.makeDurationHistogram(
            name: "vivim_pipeline_stage_duration_seconds", labels: [("stage", stage.rawValue)],
            buckets: [.microseconds(100), .milliseconds(1), .milliseconds(10), .milliseconds(50), .milliseconds(250), .seconds(1), .seconds(5)]
        ).recordNanoseconds(Int64(seconds * 1e9))
        if let bytes { registry.makeCounter(name: "vivim_pipeline_stage_bytes_total", labels: [("stage", stage.rawValue)]).increment(by: Int64(bytes)) }
        if failed { registry.makeCounter(name: "vivim_pipeline_stage_failures_total", labels: [("stage", stage.rawValue)]).increment() }
    }

    func retried(_ stage: PipelineStage) {
        registry.makeCounter(name: "vivim_pipeline_retries_total", labels: [("stage", stage.rawValue)]).increment()
    }
}
