import Foundation

/// Why a field was flagged (SPEC §5.3's `errors[].code`).
public enum IssueCode: String, WireEnum {
    case required = "REQUIRED"
    case invalidValue = "INVALID_VALUE"
    case tooLong = "TOO_LONG"
    case tooMany = "TOO_MANY"
    case duplicate = "DUPLICATE"
    case notOwned = "NOT_OWNED"
    case notFound = "NOT_FOUND"
    case notAllowed = "NOT_ALLOWED"
    case notRegistered = "NOT_REGISTERED"
    case incoherentPermissions = "INCOHERENT_PERMISSIONS"
    case invalidSchedule = "INVALID_SCHEDULE"
    case ignored = "IGNORED"
    case risky = "RISKY"
}

public enum IssueSeverity: String, WireEnum {
    case error = "ERROR", warning = "WARNING"
}

/// One finding of validation, naming the offending field by path (`audience.userDids[2]`).
public struct ValidationIssue: Sendable, Equatable, Codable {
    public var field: String
    public var code: IssueCode
    public var message: String
    public var severity: IssueSeverity

    public init(field: String, code: IssueCode, message: String, severity: IssueSeverity = .error) {
        self.field = field
        self.code = code
        self.message = message
        self.severity = severity
    }

    public var asError: VivimError { .validation(message, field: field) }
}

/// Collects issues while parsing or validating, so a client sees every problem at once.
struct IssueLog {
    private(set) var issues: [ValidationIssue] = []

    var hasErrors: Bool { issues.contains { $0.severity == .error } }

    mutating func error(_ field: String, _ code: IssueCode, _ message: String) {
        issues.append(ValidationIssue(field: field, code: code, message: message, severity: .error))
    }

    mutating func warning(_ field: String, _ code: IssueCode, _ message: String) {
        issues.append(ValidationIssue(field: field, code: code, message: message, severity: .warning))
    }

    /// Runs a throwing parse step; a failure is logged (as INVALID_VALUE at its field) and gives nil.
    mutating func attempt<T>(_ field: String, _ body: () throws(VivimError) -> T) -> T? {
        do {
            return try body()
        } catch {
            self.error(error.field ?? field, .invalidValue, error.message)
            return nil
        }
    }

    /// Trims optional free text; empty becomes nil; longer than `max` characters is logged.
    mutating func text(_ value: String?, field: String, max: Int = InputLimits.maxStringLength) -> String? {
        guard let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        guard trimmed.count <= max else {
            error(field, .tooLong, "\(field) is longer than \(max) characters")
            return nil
        }
        return trimmed
    }

    /// Checks a list against the array limit of SPEC §10.6; logs and gives false when over.
    mutating func checkCount(_ count: Int, field: String, max: Int = InputLimits.maxArrayCount) -> Bool {
        guard count <= max else {
            error(field, .tooMany, "\(field) has more than \(max) entries")
            return false
        }
        return true
    }
}
