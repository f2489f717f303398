/// The error codes of the HTTP API (SPEC §11), shared by every layer so that the HTTP
/// edge maps errors to the envelope in one place.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case validationError = "VALIDATION_ERROR"
    case unauthorized = "UNAUTHORIZED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case conflict = "CONFLICT"
    case policyViolation = "POLICY_VIOLATION"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case rateLimited = "RATE_LIMITED"
    case internalError = "INTERNAL_ERROR"
    case serviceUnavailable = "SERVICE_UNAVAILABLE"

    public var httpStatus: Int {
        switch self {
        case .validationError: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .payloadTooLarge: 413
        case .policyViolation: 422
        case .rateLimited: 429
        case .internalError: 500
        case .serviceUnavailable: 503
        }
    }
}

/// A domain error with what a caller needs: a code, a human message, the offending field.
public struct VivimError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var field: String?
    public var details: [String: String]?

    public init(_ code: ErrorCode, _ message: String, field: String? = nil, details: [String: String]? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.details = details
    }

    public var description: String { "\(code.rawValue): \(message)" + (field.map { " (\($0))" } ?? "") }

    public static func validation(_ message: String, field: String? = nil) -> VivimError {
        VivimError(.validationError, message, field: field)
    }
    public static func notFound(_ message: String) -> VivimError { VivimError(.notFound, message) }
    public static func conflict(_ message: String) -> VivimError { VivimError(.conflict, message) }
    public static func forbidden(_ message: String) -> VivimError { VivimError(.forbidden, message) }
    public static func unauthorized(_ message: String) -> VivimError { VivimError(.unauthorized, message) }
}
