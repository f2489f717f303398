import Foundation
import VivimCore
import VivimCrypto

/// What the audit log records (SPEC §10.1).
public enum AuditEventType: String, Sendable, Codable, CaseIterable {
    case authRegister = "AUTH_REGISTER"
    case authLogin = "AUTH_LOGIN"
    case authLogout = "AUTH_LOGOUT"
    case authFailure = "AUTH_FAILURE"
    case sessionRevoked = "SESSION_REVOKED"
    case keyRotated = "KEY_ROTATED"
    case accountDeleted = "ACCOUNT_DELETED"
    case shareCreate = "SHARE_CREATE"
    case shareAccess = "SHARE_ACCESS"
    case shareRevoke = "SHARE_REVOKE"
    case keyRequest = "KEY_REQUEST"
    case keyGenerate = "KEY_GENERATE"
    case policyViolation = "POLICY_VIOLATION"
    case rateLimitExceeded = "RATE_LIMIT_EXCEEDED"
}

public struct AuditEvent: Sendable, Equatable {
    public var type: AuditEventType
    public var actorDid: String?
    public var subject: String?
    public var success: Bool
    public var details: [String: String]
    public var clientAddress: String?
    public var timestamp: Date

    public init(type: AuditEventType, actorDid: String?, subject: String? = nil, success: Bool = true,
                details: [String: String] = [:], clientAddress: String? = nil, timestamp: Date) {
        self.type = type
        self.actorDid = actorDid
        self.subject = subject
        self.success = success
        self.details = details
        self.clientAddress = clientAddress
        // Millisecond precision, so the hash input survives a round trip through either store.
        self.timestamp = Date(timeIntervalSince1970: (timestamp.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

/// A stored audit entry: the event, its place in the chain, and the chain hashes.
public struct AuditEntry: Sendable, Equatable {
    public var sequence: Int64
    public var event: AuditEvent
    public var previousHash: String
    public var hash: String

    public static let genesisHash = String(repeating: "0", count: 64)

    /// Builds the entry that follows `previous` (nil for the first).
    public static func chained(_ event: AuditEvent, after previous: (sequence: Int64, hash: String)?) -> AuditEntry {
        let sequence = (previous?.sequence ?? 0) + 1
        let previousHash = previous?.hash ?? genesisHash
        return AuditEntry(sequence: sequence, event: event, previousHash: previousHash,
                          hash: computeHash(sequence: sequence, event: event, previousHash: previousHash))
    }

    /// SHA-256 over an unambiguous encoding: every field length-prefixed, details sorted by key.
    public static func computeHash(sequence: Int64, event: AuditEvent, previousHash: String) -> String {
        var input: [UInt8] = []
        func field(_ text: String?) {
            let bytes = Array((text ?? "\u{0}").utf8)
            input += Array("\(bytes.count):".utf8) + bytes
        }
        field(previousHash)
        field(String(sequence))
        field(String(Int64((event.timestamp.timeIntervalSince1970 * 1000).rounded())))
        field(event.type.rawValue)
        field(event.actorDid)
        field(event.subject)
        field(event.success ? "1" : "0")
        field(event.clientAddress)
        for key in event.details.keys.sorted() {
            field(key)
            field(event.details[key])
        }
        return Hashing.sha256Hex(input)
    }

    /// The details as stored: JSON with sorted keys.
    public var detailsJSON: String { AuditEntry.encodeDetails(event.details) }

    static func encodeDetails(_ details: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(details)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decodeDetails(_ json: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))) ?? [:]
    }
}

public enum AuditVerification: Sendable, Equatable {
    case valid(entries: Int)
    /// The first entry whose sequence, link or hash is wrong.
    case broken(sequence: Int64, reason: String)
}

/// Walks a chain in order and reports the first inconsistency.
public struct AuditChainVerifier: Sendable {
    private var previous: (sequence: Int64, hash: String)?
    public private(set) var count = 0
    public init() {}

    public mutating func check(_ entry: AuditEntry) -> AuditVerification? {
        let expectedSequence = (previous?.sequence ?? 0) + 1
        if entry.sequence != expectedSequence {
            return .broken(sequence: entry.sequence, reason: "expected sequence \(expectedSequence)")
        }
        if entry.previousHash != (previous?.hash ?? AuditEntry.genesisHash) {
            return .broken(sequence: entry.sequence, reason: "previous hash does not link")
        }
        let recomputed = AuditEntry.computeHash(sequence: entry.sequence, event: entry.event, previousHash: entry.previousHash)
        if recomputed != entry.hash {
            return .broken(sequence: entry.sequence, reason: "hash does not match contents")
        }
        previous = (entry.sequence, entry.hash)
        count += 1
        return nil
    }
}
