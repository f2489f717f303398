import Foundation
import Hummingbird
import NIOCore
import VivimCore
import VivimStore

/// The pagination block of SPEC §11.
public struct PaginationMeta: Codable, Sendable, Equatable {
    public var page: Int
    public var pageSize: Int
    public var totalItems: Int
    public var totalPages: Int
    public var hasMore: Bool
    public var cursor: String?

    init<T>(_ page: Page<T>) {
        self.page = page.request.page
        self.pageSize = page.request.pageSize
        self.totalItems = page.totalItems
        self.totalPages = page.totalPages
        self.hasMore = page.hasMore
    }
}

struct ResponseMeta: Encodable {
    var requestId: String
    var timestamp: Date
    var pagination: PaginationMeta?
}

struct SuccessEnvelope<Payload: Encodable>: Encodable {
    let success = true
    var data: Payload
    var meta: ResponseMeta
}

struct ErrorBody: Encodable {
    var code: String
    var message: String
    var details: ErrorDetails?
    var field: String?
}

/// `error.details`: string facts, and for a refused intent the whole validation or policy report.
struct ErrorDetails: Encodable {
    var facts: [String: String]
    var report: (any Encodable & Sendable)?

    func encode(to encoder: any Encoder) throws {
        if let report {
            try report.encode(to: encoder)
            var container = encoder.container(keyedBy: DynamicKey.self)
            for (key, value) in facts { try container.encode(value, forKey: DynamicKey(key)) }
        } else {
            try facts.encode(to: encoder)
        }
    }

    struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// A domain error that carries a structured report (validation, policy) for `error.details`.
struct ReportedError: Error {
    var error: VivimError
    var report: any Encodable & Sendable
}

struct ErrorEnvelope: Encodable {
    let success = false
    var error: ErrorBody
    var meta: ResponseMeta
}

/// JSON encoding shared by every response: RFC 3339 dates with milliseconds, sorted keys.
enum APIJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }()

    static func buffer<T: Encodable>(_ value: T) throws -> ByteBuffer {
        ByteBuffer(data: try encoder.encode(value))
    }
}

extension VivimRequestContext {
    /// A success envelope with `data`.
    public func respond<T: Encodable>(_ data: T, status: HTTPResponse.Status = .ok, pagination: PaginationMeta? = nil) throws -> Response {
        let envelope = SuccessEnvelope(data: data, meta: ResponseMeta(requestId: requestID, timestamp: Date(), pagination: pagination))
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: try APIJSON.buffer(envelope)))
    }

    /// A page of items, with the pagination block in `meta`.
    func respond<Item, T: Encodable>(page: Page<Item>, _ transform: (Item) throws -> T) throws -> Response {
        try respond(page.items.map(transform), pagination: PaginationMeta(page))
    }
}

/// Builds error responses; the one place where errors become HTTP.
enum ErrorResponder {
    static func response(for error: VivimError, requestID: String, report: (any Encodable & Sendable)? = nil) -> Response {
        let details = error.details != nil || report != nil ? ErrorDetails(facts: error.details ?? [:], report: report) : nil
        let envelope = ErrorEnvelope(
            error: ErrorBody(code: error.code.rawValue, message: error.message, details: details, field: error.field),
            meta: ResponseMeta(requestId: requestID, timestamp: Date(), pagination: nil))
        let body = (try? APIJSON.buffer(envelope)) ?? ByteBuffer(string: #"{"success":false}"#)
        return Response(status: .init(code: error.code.httpStatus), headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: body))
    }

    /// Maps any error to a domain error; unknown errors become INTERNAL_ERROR.
    static func classify(_ error: any Error) -> VivimError {
        switch error {
        case let error as VivimError:
            return error
        case let error as ReportedError:
            return error.error
        case let error as RateLimitExceeded:
            return error.vivimError
        case let error as DecodingError:
            return decodingError(error)
        case let error as any HTTPResponseError:
            // Hummingbird's own errors (no route, body too large, …) keep their meaning.
            let message = (error as? HTTPError)?.body
            switch error.status.code {
            case 400: return .validation(message ?? "bad request")
            case 401: return .unauthorized(message ?? "authentication required")
            case 403: return .forbidden(message ?? "forbidden")
            case 404: return .notFound("no such route")
            case 405: return VivimError(.notFound, "method not allowed on this route")
            case 413: return VivimError(.payloadTooLarge, "request body is too large")
            case 429: return VivimError(.rateLimited, "too many requests")
            case 500..<600: return VivimError(.serviceUnavailable, message ?? "service unavailable")
            default: return .validation(message ?? "bad request")
            }
        default:
            return VivimError(.internalError, "internal error")
        }
    }

    static func decodingError(_ error: DecodingError) -> VivimError {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String? {
            let keys = codingPath + (last.map { [$0] } ?? [])
            guard !keys.isEmpty else { return nil }
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath, key)
            return .validation("\(field ?? key.stringValue) is required", field: field)
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            return .validation("\(field ?? "body") has the wrong type (expected \(Self.typeName(type)))", field: field)
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return .validation("\(field ?? "body") must not be null (expected \(Self.typeName(type)))", field: field)
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? VivimError { return underlying }
            let field = path(context.codingPath)
            return .validation(field == nil ? "body is not valid JSON" : "\(field!) is invalid", field: field)
        @unknown default:
            return .validation("body is invalid")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Bool.Type: "boolean"
        case is Int.Type, is Int64.Type, is Double.Type: "number"
        default: type is any Collection.Type ? "array" : "object"
        }
    }
}
