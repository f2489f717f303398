import Foundation

public enum IntentTag {}
public enum ContentTag {}
public enum ShareLinkTag {}

public typealias IntentID = Identifier<IntentTag>
/// Any shareable piece of content (a conversation, ACU, collection, annotation or notebook id).
public typealias ContentID = Identifier<ContentTag>
public typealias ShareLinkID = Identifier<ShareLinkTag>

/// What is shared (SPEC §4, §5.1). `includeACUs`/`excludeACUs` only narrow a PARTIAL scope.
public struct IntentContent: Sendable, Equatable, Codable {
    public var type: ContentType
    public var ids: [ContentID]
    public var scope: ContentScope
    public var includeACUs: [ACUID]?
    public var excludeACUs: [ACUID]?

    public init(type: ContentType, ids: [ContentID], scope: ContentScope = .full,
                includeACUs: [ACUID]? = nil, excludeACUs: [ACUID]? = nil) {
        self.type = type
        self.ids = ids
        self.scope = scope
        self.includeACUs = includeACUs
        self.excludeACUs = excludeACUs
    }
}

/// Who an intent is for (SPEC §5.1). The cases carry exactly what their type needs, so a
/// CIRCLE audience always names its circles. Wire shape: `{type, circleIds?, userDids?, linkId?}`.
public enum Audience: Sendable, Equatable, Codable {
    case `public`
    case circles([CircleID])
    case users([DID])
    /// Anyone holding a link of the intent; `linkId` names the link once it exists.
    case link(ShareLinkID?)

    public var type: AudienceType {
        switch self {
        case .public: .public
        case .circles: .circle
        case .users: .users
        case .link: .link
        }
    }

    public var circleIDs: [CircleID] { if case .circles(let ids) = self { ids } else { [] } }
    public var userDIDs: [DID] { if case .users(let dids) = self { dids } else { [] } }

    enum CodingKeys: String, CodingKey { case type, circleIds, userDids, linkId }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(AudienceType.self, forKey: .type) {
        case .public: self = .public
        case .circle: self = .circles(try container.decode([CircleID].self, forKey: .circleIds))
        case .users: self = .users(try container.decode([DID].self, forKey: .userDids))
        case .link: self = .link(try container.decodeIfPresent(ShareLinkID.self, forKey: .linkId))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .public: break
        case .circles(let ids): try container.encode(ids, forKey: .circleIds)
        case .users(let dids): try container.encode(dids, forKey: .userDids)
        case .link(let id): try container.encodeIfPresent(id, forKey: .linkId)
        }
    }
}

/// When an intent goes live and when it stops (SPEC §5.1, §5.2).
public struct Schedule: Sendable, Equatable, Codable {
    public var publishAt: Date?
    public var expiresAt: Date?
    /// An IANA time-zone identifier the owner scheduled in; informational for display.
    public var timezone: String?

    public init(publishAt: Date? = nil, expiresAt: Date? = nil, timezone: String? = nil) {
        self.publishAt = publishAt
        self.expiresAt = expiresAt
        self.timezone = timezone
    }
}

/// A condition that ends an intent (SPEC §5.1, issue 3 item 5).
public enum ExpirationCondition: Sendable, Equatable, Hashable, Codable {
    /// A direct recipient loses access when they are no longer a member of the circle; the
    /// intent expires once no recipient is left in it.
    case recipientLeavesCircle(CircleID)

    public enum Kind: String, WireEnum { case recipientLeavesCircle = "RECIPIENT_LEAVES_CIRCLE" }

    enum CodingKeys: String, CodingKey { case type, circleId }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Kind.self, forKey: .type) {
        case .recipientLeavesCircle: self = .recipientLeavesCircle(try container.decode(CircleID.self, forKey: .circleId))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .recipientLeavesCircle(let circle):
            try container.encode(Kind.recipientLeavesCircle, forKey: .type)
            try container.encode(circle, forKey: .circleId)
        }
    }
}

/// What ends an intent besides revocation (SPEC §5.1). Wire shape `{type, maxViews?, condition?}`.
public enum Expiration: Sendable, Equatable, Codable {
    /// At `schedule.expiresAt`.
    case time
    /// After `maxViews` views in total.
    case access(maxViews: Int)
    case condition(ExpirationCondition)

    public var type: ExpirationType {
        switch self {
        case .time: .time
        case .access: .access
        case .condition: .condition
        }
    }

    public var maxViews: Int? { if case .access(let max) = self { max } else { nil } }

    enum CodingKeys: String, CodingKey { case type, maxViews, condition }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(ExpirationType.self, forKey: .type) {
        case .time: self = .time
        case .access: self = .access(maxViews: try container.decode(Int.self, forKey: .maxViews))
        case .condition: self = .condition(try container.decode(ExpirationCondition.self, forKey: .condition))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .time: break
        case .access(let max): try container.encode(max, forKey: .maxViews)
        case .condition(let condition): try container.encode(condition, forKey: .condition)
        }
    }
}

public enum WatermarkPosition: String, WireEnum {
    case topLeft = "TOP_LEFT", topRight = "TOP_RIGHT", bottomLeft = "BOTTOM_LEFT", bottomRight = "BOTTOM_RIGHT", center = "CENTER"
}

/// Watermark settings; `addWatermark: true` means these defaults.
public struct Watermark: Sendable, Equatable, Codable {
    public var text: String?
    public var position: WatermarkPosition
    /// 0…1.
    public var opacity: Double
    public var includeTimestamp: Bool

    public init(text: String? = nil, position: WatermarkPosition = .bottomRight, opacity: Double = 0.3, includeTimestamp: Bool = false) {
        self.text = text
        self.position = position
        self.opacity = opacity
        self.includeTimestamp = includeTimestamp
    }
}

/// Attribution settings; `addAttribution: true` means these defaults.
public struct Attribution: Sendable, Equatable, Codable {
    public var showAuthor: Bool
    public var showDate: Bool
    public var showSource: Bool
    public var customText: String?

    public init(showAuthor: Bool = true, showDate: Bool = true, showSource: Bool = true, customText: String? = nil) {
        self.showAuthor = showAuthor
        self.showDate = showDate
        self.showSource = showSource
        self.customText = customText
    }
}

/// Transformations the pipeline applies before encryption (SPEC §5.1, §7.1). A nil
/// watermark or attribution is off; on the wire it is `false`.
public struct Transformations: Sendable, Equatable, Codable {
    public var removeSystemMessages = false
    public var removeToolCalls = false
    public var removeImages = false
    public var redactPersonalInfo = false
    public var addWatermark: Watermark?
    public var addAttribution: Attribution?
    public var addNotes = false
    public var anonymizeUserMessages = false
    public var anonymizeAIMessages = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case removeSystemMessages, removeToolCalls, removeImages, redactPersonalInfo, addWatermark, addAttribution
        case addNotes, anonymizeUserMessages, anonymizeAIMessages
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        removeSystemMessages = try c.decodeIfPresent(Bool.self, forKey: .removeSystemMessages) ?? false
        removeToolCalls = try c.decodeIfPresent(Bool.self, forKey: .removeToolCalls) ?? false
        removeImages = try c.decodeIfPresent(Bool.self, forKey: .removeImages) ?? false
        redactPersonalInfo = try c.decodeIfPresent(Bool.self, forKey: .redactPersonalInfo) ?? false
        addWatermark = try c.decodeIfPresent(FlagOrObject<Watermark>.self, forKey: .addWatermark)?.resolved(default: Watermark())
        addAttribution = try c.decodeIfPresent(FlagOrObject<Attribution>.self, forKey: .addAttribution)?.resolved(default: Attribution())
        addNotes = try c.decodeIfPresent(Bool.self, forKey: .addNotes) ?? false
        anonymizeUserMessages = try c.decodeIfPresent(Bool.self, forKey: .anonymizeUserMessages) ?? false
        anonymizeAIMessages = try c.decodeIfPresent(Bool.self, forKey: .anonymizeAIMessages) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(removeSystemMessages, forKey: .removeSystemMessages)
        try c.encode(removeToolCalls, forKey: .removeToolCalls)
        try c.encode(removeImages, forKey: .removeImages)
        try c.encode(redactPersonalInfo, forKey: .redactPersonalInfo)
        try c.encode(addWatermark.map(FlagOrObject.object) ?? .flag(false), forKey: .addWatermark)
        try c.encode(addAttribution.map(FlagOrObject.object) ?? .flag(false), forKey: .addAttribution)
        try c.encode(addNotes, forKey: .addNotes)
        try c.encode(anonymizeUserMessages, forKey: .anonymizeUserMessages)
        try c.encode(anonymizeAIMessages, forKey: .anonymizeAIMessages)
    }
}

/// A JSON value that is either `true`/`false` or an object of settings (SPEC §5.1's
/// `addWatermark` and `addAttribution`).
public enum FlagOrObject<Object: Sendable & Equatable & Codable>: Sendable, Equatable, Codable {
    case flag(Bool)
    case object(Object)

    /// nil for `false`, the defaults for `true`, the object otherwise.
    public func resolved(default defaults: Object) -> Object? {
        switch self {
        case .flag(let on): on ? defaults : nil
        case .object(let object): object
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .flag(flag)
        } else {
            self = .object(try container.decode(Object.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .flag(let flag): try container.encode(flag)
        case .object(let object): try container.encode(object)
        }
    }
}

/// Descriptive metadata (SPEC §5.1).
public struct IntentMetadata: Sendable, Equatable, Codable {
    public var title: String?
    public var description: String?
    public var tags: [String]
    /// A BCP 47 language tag, lower-cased.
    public var language: String?
    public var category: String?

    public init(title: String? = nil, description: String? = nil, tags: [String] = [], language: String? = nil, category: String? = nil) {
        self.title = title
        self.description = description
        self.tags = tags
        self.language = language
        self.category = category
    }
}

/// Per-intent policy switches (SPEC §5.1). Analytics is opt-in (SPEC §9 consent).
public struct IntentPolicy: Sendable, Equatable, Codable {
    /// Direct and circle recipients must accept before they get access.
    public var requireAcceptance: Bool
    public var trackViews: Bool
    public var allowAnalytics: Bool
    public var moderationFlag: ModerationFlag

    public init(requireAcceptance: Bool = false, trackViews: Bool = true, allowAnalytics: Bool = false, moderationFlag: ModerationFlag = .none) {
        self.requireAcceptance = requireAcceptance
        self.trackViews = trackViews
        self.allowAnalytics = allowAnalytics
        self.moderationFlag = moderationFlag
    }
}

/// The part of an intent its author decides: everything but identity, status and timestamps.
/// Built only by parsing a `SharingIntentDraft` (or from trusted storage), so every value in
/// it is well-formed; facts about the world (ownership, circles) are checked by `IntentValidator`.
public struct IntentSpec: Sendable, Equatable, Codable {
    public var intentType: IntentType
    public var content: IntentContent
    public var audience: Audience
    public var permissions: Permissions
    public var schedule: Schedule?
    public var expiration: Expiration?
    public var transformations: Transformations?
    public var metadata: IntentMetadata
    public var policy: IntentPolicy
    public var coOwners: [DID]
    public var vetoPower: Bool

    public init(intentType: IntentType = .share, content: IntentContent, audience: Audience, permissions: Permissions = .viewOnly,
                schedule: Schedule? = nil, expiration: Expiration? = nil, transformations: Transformations? = nil,
                metadata: IntentMetadata = IntentMetadata(), policy: IntentPolicy = IntentPolicy(), coOwners: [DID] = [], vetoPower: Bool = false) {
        self.intentType = intentType
        self.content = content
        self.audience = audience
        self.permissions = permissions
        self.schedule = schedule
        self.expiration = expiration
        self.transformations = transformations
        self.metadata = metadata
        self.policy = policy
        self.coOwners = coOwners
        self.vetoPower = vetoPower
    }

    /// The view budget, if the intent ends after a number of views.
    public var maxViews: Int? { expiration?.maxViews }
}

/// A sharing intent: a first-class, versioned, signed record of a decision to share (SPEC §5.1).
/// `version` grows by one on every change, so `(id, version)` names one exact state.
@dynamicMemberLookup
public struct SharingIntent: Sendable, Equatable, Codable {
    public var id: IntentID
    public var version: Int
    /// Whose content this is.
    public var ownerDid: DID
    /// Who made the intent: the owner, or a recipient re-sharing with `share` permission.
    public var actorDid: DID
    public var spec: IntentSpec
    public var status: IntentStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var publishedAt: Date?
    /// When the intent stops being served: the scheduled expiry, or the moment it actually
    /// expired if that came first (view budget, condition).
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var revokedReason: String?
    /// Ed25519 signature (base64url) of `actorDid` over `signingPayload()`.
    public var signature: String?

    public init(id: IntentID = IntentID(), ownerDid: DID, actorDid: DID? = nil, spec: IntentSpec, createdAt: Date) {
        self.id = id
        self.version = 1
        self.ownerDid = ownerDid
        self.actorDid = actorDid ?? ownerDid
        self.spec = spec
        self.status = .draft
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.expiresAt = spec.schedule?.expiresAt
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<IntentSpec, T>) -> T { spec[keyPath: keyPath] }

    /// Whether `did` may change this intent (owner, actor or co-owner), and revoke it (also
    /// a co-owner only when `vetoPower` is set).
    public func mayUpdate(_ did: DID) -> Bool { did == ownerDid || did == actorDid || spec.coOwners.contains(did) }
    public func mayRevoke(_ did: DID) -> Bool { did == ownerDid || did == actorDid || (spec.vetoPower && spec.coOwners.contains(did)) }

    /// Replaces the author-decided part; bumps the version.
    public func updating(_ newSpec: IntentSpec, at now: Date) -> SharingIntent {
        var next = self
        next.spec = newSpec
        next.expiresAt = newSpec.schedule?.expiresAt
        next.version += 1
        next.updatedAt = now
        next.signature = nil
        return next
    }

    enum CodingKeys: String, CodingKey {
        case id, version, ownerDid, actorDid, status, createdAt, updatedAt, publishedAt, expiresAt, revokedAt, revokedReason, signature
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(IntentID.self, forKey: .id)
        version = try c.decode(Int.self, forKey: .version)
        ownerDid = try c.decode(DID.self, forKey: .ownerDid)
        actorDid = try c.decode(DID.self, forKey: .actorDid)
        spec = try IntentSpec(from: decoder)
        status = try c.decode(IntentStatus.self, forKey: .status)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        updatedAt = try c.decode(Date.self, forKey: .updatedAt)
        publishedAt = try c.decodeIfPresent(Date.self, forKey: .publishedAt)
        expiresAt = try c.decodeIfPresent(Date.self, forKey: .expiresAt)
        revokedAt = try c.decodeIfPresent(Date.self, forKey: .revokedAt)
        revokedReason = try c.decodeIfPresent(String.self, forKey: .revokedReason)
        signature = try c.decodeIfPresent(String.self, forKey: .signature)
    }

    /// The flat shape of SPEC §5.1: the spec's keys and the record's keys in one object.
    public func encode(to encoder: any Encoder) throws {
        try spec.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(version, forKey: .version)
        try c.encode(ownerDid, forKey: .ownerDid)
        try c.encode(actorDid, forKey: .actorDid)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encodeIfPresent(publishedAt, forKey: .publishedAt)
        try c.encodeIfPresent(expiresAt, forKey: .expiresAt)
        try c.encodeIfPresent(revokedAt, forKey: .revokedAt)
        try c.encodeIfPresent(revokedReason, forKey: .revokedReason)
        try c.encodeIfPresent(signature, forKey: .signature)
    }

    /// The bytes the actor signs: `vivim/intent/v1|` followed by `{id, ownerDid, actorDid,
    /// createdAt, spec}` as JSON with sorted keys and dates in integer milliseconds. Status,
    /// version and lifecycle timestamps are left out: they change without the actor deciding.
    public func signingPayload() -> [UInt8] {
        struct Signed: Encodable {
            var id: IntentID, ownerDid: DID, actorDid: DID, createdAt: Date, spec: IntentSpec
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        // Every member encodes to plain strings, numbers and booleans, so this cannot fail.
        let json = (try? encoder.encode(Signed(id: id, ownerDid: ownerDid, actorDid: actorDid, createdAt: createdAt, spec: spec))) ?? Data()
        return Array("vivim/intent/v1|".utf8) + Array(json)
    }
}
