import Foundation

/// A share-link code (SPEC §6): URL-safe base64 (`A–Z a–z 0–9 - _`, no padding) carrying at
/// least 128 bits, so 22 to 128 characters. Codes are made from secure randomness in
/// VivimCrypto; this type only parses them, so a malformed code never reaches a query.
public struct ShareLinkCode: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// 22 base64url characters carry 132 bits, the first length at or above 128.
    public static let minimumLength = 22
    public static let maximumLength = 128

    public init(parsing text: String, field: String = "code") throws(VivimError) {
        let bytes = text.utf8
        guard (Self.minimumLength...Self.maximumLength).contains(bytes.count) else {
            throw .validation("a share code has \(Self.minimumLength) to \(Self.maximumLength) characters", field: field)
        }
        guard bytes.allSatisfy(Self.isURLSafe) else {
            throw .validation("a share code uses only A–Z, a–z, 0–9, '-' and '_'", field: field)
        }
        rawValue = text
    }

    /// Bits of entropy the code can carry.
    public var bits: Int { rawValue.utf8.count * 6 }

    public var description: String { rawValue }

    static func isURLSafe(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2d || byte == 0x5f
    }

    public init(from decoder: any Decoder) throws {
        self = try ShareLinkCode(parsing: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Whether a link works now (SPEC §6).
public enum ShareLinkState: String, WireEnum {
    case active = "ACTIVE"
    /// Past its `expiresAt`.
    case expired = "EXPIRED"
    /// `usesCount` reached `maxUses`.
    case exhausted = "EXHAUSTED"
    /// Deactivated by its creator, or its intent no longer serves content.
    case disabled = "DISABLED"

    /// The refusal for a link that does not work. A disabled link answers NOT_FOUND, so a
    /// visitor cannot tell a deactivated link from one that never existed; expired and
    /// exhausted links answer FORBIDDEN with the reason.
    public func requireActive() throws(VivimError) {
        switch self {
        case .active: return
        case .disabled: throw .notFound("share link not found")
        case .expired: throw VivimError(.forbidden, "this share link has expired", details: ["reason": rawValue])
        case .exhausted: throw VivimError(.forbidden, "this share link has been used up", details: ["reason": rawValue])
        }
    }
}

/// A share link as the master store keeps it. The password hash lives with the store and is
/// never part of this value.
public struct ShareLink: Sendable, Equatable, Codable {
    public var id: ShareLinkID
    public var code: ShareLinkCode
    public var intentID: IntentID
    public var creatorDid: DID
    public var maxUses: Int?
    public var usesCount: Int
    public var expiresAt: Date?
    public var isActive: Bool
    public var requiresPassword: Bool
    public var createdAt: Date

    public init(id: ShareLinkID = ShareLinkID(), code: ShareLinkCode, intentID: IntentID, creatorDid: DID, maxUses: Int? = nil,
                usesCount: Int = 0, expiresAt: Date? = nil, isActive: Bool = true, requiresPassword: Bool = false, createdAt: Date) {
        self.id = id
        self.code = code
        self.intentID = intentID
        self.creatorDid = creatorDid
        self.maxUses = maxUses
        self.usesCount = usesCount
        self.expiresAt = expiresAt
        self.isActive = isActive
        self.requiresPassword = requiresPassword
        self.createdAt = createdAt
    }

    /// The link's state at `now`, given its intent's status: a link dies with its intent
    /// (revoked, expired…) and, once disabled, stays so whatever its counters say.
    public func state(at now: Date, intentStatus: IntentStatus) -> ShareLinkState {
        if !isActive || intentStatus != .active { return .disabled }
        if let expiresAt, now >= expiresAt { return .expired }
        if let maxUses, usesCount >= maxUses { return .exhausted }
        return .active
    }

    /// The link after one successful use, or the refusal. The store performs the same step
    /// atomically (`UPDATE … SET uses_count = uses_count + 1 WHERE uses_count < max_uses …`).
    public func recordingUse(at now: Date, intentStatus: IntentStatus) throws(VivimError) -> ShareLink {
        try state(at: now, intentStatus: intentStatus).requireActive()
        var next = self
        next.usesCount += 1
        return next
    }
}

/// A request to create a link (SPEC §6 `POST /sharing/links {intentId, maxUses?, expiresAt?, password?}`).
public struct ShareLinkDraft: Sendable, Equatable, Codable {
    public var intentId: String?
    public var maxUses: Int?
    public var expiresAt: String?
    public var password: String?

    public init(intentId: String? = nil, maxUses: Int? = nil, expiresAt: String? = nil, password: String? = nil) {
        self.intentId = intentId
        self.maxUses = maxUses
        self.expiresAt = expiresAt
        self.password = password
    }

    /// The parsed request. Passwords have 8 to 1,024 characters; they go to the slow hash in
    /// VivimCrypto and are never stored.
    public struct Parsed: Sendable, Equatable {
        public var intentID: IntentID
        public var maxUses: Int?
        public var expiresAt: Date?
        public var password: String?
    }

    public static let passwordLength = 8...1_024
    public static let maxUsesRange = 1...1_000_000_000

    public func parse(now: Date) throws(VivimError) -> Parsed {
        guard let intentId else { throw .validation("intentId is required", field: "intentId") }
        let intentID = try IntentID(parsing: intentId, field: "intentId")
        if let maxUses, !Self.maxUsesRange.contains(maxUses) {
            throw .validation("maxUses must be between 1 and \(Self.maxUsesRange.upperBound)", field: "maxUses")
        }
        let expiry = try expiresAt.map { text throws(VivimError) in try RFC3339.parse(text, field: "expiresAt") }
        if let expiry, expiry <= now { throw .validation("expiresAt must be in the future", field: "expiresAt") }
        if let password, !Self.passwordLength.contains(password.count) {
            throw .validation("a link password has \(Self.passwordLength.lowerBound) to \(Self.passwordLength.upperBound) characters", field: "password")
        }
        return Parsed(intentID: intentID, maxUses: maxUses, expiresAt: expiry, password: password)
    }
}
