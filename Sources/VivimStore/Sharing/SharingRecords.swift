import Foundation
import VivimCore

/// How an intent listing is filtered and ordered (`GET /api/v1/sharing/intents`).
public struct IntentQuery: Sendable, Equatable {
    public enum SortField: String, Sendable, CaseIterable { case createdAt, publishedAt }

    /// Intents this DID owns, acts for, or co-owns.
    public var did: DID
    public var status: IntentStatus?
    public var contentType: ContentType?
    public var audienceType: AudienceType?
    public var createdFrom: Date?
    public var createdUntil: Date?
    public var sortBy: SortField
    public var descending: Bool
    public var page: PageRequest

    public init(did: DID, status: IntentStatus? = nil, contentType: ContentType? = nil, audienceType: AudienceType? = nil,
                createdFrom: Date? = nil, createdUntil: Date? = nil, sortBy: SortField = .createdAt, descending: Bool = true,
                page: PageRequest = PageRequest()) {
        self.did = did
        self.status = status
        self.contentType = contentType
        self.audienceType = audienceType
        self.createdFrom = createdFrom
        self.createdUntil = createdUntil
        self.sortBy = sortBy
        self.descending = descending
        self.page = page
    }
}

/// A recipient's row in `audience_members`: a listed user, or a circle member who answered.
public struct AudienceMember: Sendable, Equatable {
    public enum Kind: String, Sendable { case user = "USER", circleMember = "CIRCLE_MEMBER" }
    public var intentID: IntentID
    public var did: DID
    public var kind: Kind
    public var response: RecipientResponse
    public var updatedAt: Date

    public init(intentID: IntentID, did: DID, kind: Kind, response: RecipientResponse, updatedAt: Date) {
        self.intentID = intentID
        self.did = did
        self.kind = kind
        self.response = response
        self.updatedAt = updatedAt
    }
}

/// A stored share link: the pure `ShareLink`, its password hash (never leaves the store layer's
/// caller except for verification) and whether it is a zero-knowledge link.
public struct StoredShareLink: Sendable, Equatable {
    public var link: ShareLink
    /// The encoded slow hash of the password (`PasswordHash`), nil without a password.
    public var passwordHash: String?
    /// The content key lives only in the URL fragment (SPEC §6).
    public var zeroKnowledge: Bool

    public init(link: ShareLink, passwordHash: String?, zeroKnowledge: Bool) {
        self.link = link
        self.passwordHash = passwordHash
        self.zeroKnowledge = zeroKnowledge
    }
}

/// The outcome of one atomic link use.
public enum LinkUseOutcome: Sendable, Equatable {
    case used(StoredShareLink)
    case refused(ShareLinkState)
    case notFound
}

/// The status of a published content record (SPEC §8.8), plus ROLLED_BACK for a publish undone.
public enum ContentRecordStatus: String, WireEnum {
    case active = "ACTIVE", expired = "EXPIRED", revoked = "REVOKED", archived = "ARCHIVED"
    case corrupted = "CORRUPTED", rolledBack = "ROLLED_BACK"
}

/// A published bundle's record in the master store (SPEC §8.8).
public struct ContentRecord: Sendable, Equatable {
    /// Hex SHA-256 of the bundle's ciphertext: the bundle's `contentId`.
    public var contentId: String
    public var intentID: IntentID
    public var ownerDid: DID
    public var contentType: ContentType
    /// The intent's content ids this bundle was made from.
    public var sourceIDs: [ContentID]
    public var audienceType: AudienceType
    /// Plaintext size and hex SHA-256 (deduplication; never published).
    public var size: Int
    public var contentHash: String
    public var bundleSize: Int
    public var title: String?
    public var tags: [String]
    /// Base64url content key, only for PUBLIC shares (SPEC §7.2 "Public shares carry no capsules").
    public var publicContentKey: String?
    public var providers: [String]
    public var replicaCount: Int
    public var status: ContentRecordStatus
    public var createdAt: Date
    public var updatedAt: Date

    public init(contentId: String, intentID: IntentID, ownerDid: DID, contentType: ContentType, sourceIDs: [ContentID],
                audienceType: AudienceType, size: Int, contentHash: String, bundleSize: Int, title: String?, tags: [String],
                publicContentKey: String?, providers: [String], replicaCount: Int, status: ContentRecordStatus,
                createdAt: Date, updatedAt: Date) {
        self.contentId = contentId
        self.intentID = intentID
        self.ownerDid = ownerDid
        self.contentType = contentType
        self.sourceIDs = sourceIDs
        self.audienceType = audienceType
        self.size = size
        self.contentHash = contentHash
        self.bundleSize = bundleSize
        self.title = title
        self.tags = tags
        self.publicContentKey = publicContentKey
        self.providers = providers
        self.replicaCount = replicaCount
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What `GET /api/v1/content` searches among (records the caller may see are filtered after).
public struct ContentQuery: Sendable, Equatable {
    public var text: String?
    public var ownerDid: DID?
    public var contentType: ContentType?
    public var tags: [String]
    public var audienceType: AudienceType?
    /// Only records of these intents (the caller's visible intents); nil for no restriction.
    public var intentIDs: [IntentID]?
    /// What a signed-in caller may see: records of these intents, and public records when
    /// `includePublic`. Applied in addition to the other filters; nil for no restriction.
    public var visibleTo: Visibility?
    public var page: PageRequest

    public struct Visibility: Sendable, Equatable {
        public var intentIDs: [IntentID]
        public var includePublic: Bool
        public init(intentIDs: [IntentID], includePublic: Bool) {
            self.intentIDs = intentIDs
            self.includePublic = includePublic
        }
    }

    public init(text: String? = nil, ownerDid: DID? = nil, contentType: ContentType? = nil, tags: [String] = [],
                audienceType: AudienceType? = nil, intentIDs: [IntentID]? = nil, page: PageRequest = PageRequest()) {
        self.text = text
        self.ownerDid = ownerDid
        self.contentType = contentType
        self.tags = tags
        self.audienceType = audienceType
        self.intentIDs = intentIDs
        self.page = page
    }
}

/// `content_access_log.access_type` (SPEC §2.1).
public enum AccessType: String, WireEnum {
    case view = "VIEW", copy = "COPY", download = "DOWNLOAD", annotate = "ANNOTATE", remix = "REMIX"
    case forward = "FORWARD", save = "SAVE"
}

public struct ContentAccess: Sendable, Equatable {
    public var contentId: String
    public var intentID: IntentID?
    public var accessorDid: DID?
    public var type: AccessType
    public var success: Bool
    public var errorCode: String?
    public var at: Date

    public init(contentId: String, intentID: IntentID?, accessorDid: DID?, type: AccessType, success: Bool,
                errorCode: String? = nil, at: Date) {
        self.contentId = contentId
        self.intentID = intentID
        self.accessorDid = accessorDid
        self.type = type
        self.success = success
        self.errorCode = errorCode
        self.at = at
    }
}

/// Analytics event types this layer emits (SPEC §9), stored for the analytics layer.
public enum AnalyticsEventType: String, WireEnum {
    case shareCreated = "SHARE_CREATED", shareAccepted = "SHARE_ACCEPTED", shareDeclined = "SHARE_DECLINED"
    case shareRevoked = "SHARE_REVOKED", shareExpired = "SHARE_EXPIRED", sharePublished = "SHARE_PUBLISHED"
    case linkCreated = "LINK_CREATED", linkClicked = "LINK_CLICKED", contentViewed = "CONTENT_VIEWED"
}

public struct AnalyticsEvent: Sendable, Equatable {
    public var type: AnalyticsEventType
    public var actorDid: DID?
    /// What the event is about: an intent id, a link id, a content id.
    public var subject: String
    public var properties: [String: String]
    public var at: Date
    /// Makes a retried write a no-op (e.g. a scheduler transition's key).
    public var dedupKey: String?

    public init(type: AnalyticsEventType, actorDid: DID?, subject: String, properties: [String: String] = [:], at: Date,
                dedupKey: String? = nil) {
        self.type = type
        self.actorDid = actorDid
        self.subject = subject
        self.properties = properties
        self.at = at
        self.dedupKey = dedupKey
    }
}

/// Where a publish stands in the outbox (crash consistency, SPEC §7.1). A job moves
/// QUEUED → SEALED (bundle written to the content store) → RECORDED (record + ACTIVE intent
/// committed together) → done (row deleted), or to FAILED after its retries.
public enum PublishStage: String, WireEnum {
    case queued = "QUEUED", sealed = "SEALED", recorded = "RECORDED", failed = "FAILED"
}

public struct PublishJob: Sendable, Equatable {
    public var intentID: IntentID
    /// The intent version the job publishes; a changed intent supersedes the job.
    public var intentVersion: Int
    public var stage: PublishStage
    public var contentId: String?
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(intentID: IntentID, intentVersion: Int, stage: PublishStage = .queued, contentId: String? = nil, attempts: Int = 0,
                nextAttemptAt: Date, lastError: String? = nil, createdAt: Date, updatedAt: Date) {
        self.intentID = intentID
        self.intentVersion = intentVersion
        self.stage = stage
        self.contentId = contentId
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A circle's epoch key as the master store keeps it: sealed under the server's storage key.
public struct StoredEpochKey: Sendable, Equatable {
    public var circleID: CircleID
    public var epoch: Int
    /// AES-GCM combined box (nonce ‖ ciphertext ‖ tag) of the 32-byte epoch key.
    public var sealedKey: [UInt8]
    public var createdAt: Date

    public init(circleID: CircleID, epoch: Int, sealedKey: [UInt8], createdAt: Date) {
        self.circleID = circleID
        self.epoch = epoch
        self.sealedKey = sealedKey
        self.createdAt = createdAt
    }
}

/// One member's capsule of one epoch key (JSON of `EpochKeyCapsule`).
public struct StoredEpochCapsule: Sendable, Equatable {
    public var circleID: CircleID
    public var epoch: Int
    public var memberDid: DID
    public var capsuleJSON: String

    public init(circleID: CircleID, epoch: Int, memberDid: DID, capsuleJSON: String) {
        self.circleID = circleID
        self.epoch = epoch
        self.memberDid = memberDid
        self.capsuleJSON = capsuleJSON
    }
}

/// The key the home server signs a user's bundles with, and the user's delegation of it.
public struct PublishingKeyRecord: Sendable, Equatable {
    public var did: DID
    /// The Ed25519 seed sealed under the server's storage key.
    public var sealedSeed: [UInt8]
    public var publicKey: [UInt8]
    /// JSON of the user's `PublishingDelegation`, once they signed one.
    public var delegationJSON: String?
    public var createdAt: Date

    public init(did: DID, sealedSeed: [UInt8], publicKey: [UInt8], delegationJSON: String?, createdAt: Date) {
        self.did = did
        self.sealedSeed = sealedSeed
        self.publicKey = publicKey
        self.delegationJSON = delegationJSON
        self.createdAt = createdAt
    }
}

/// Everything the publish commit writes in one transaction (no ACTIVE intent without its
/// record, no record without the intent moving).
public struct PublishCommit: Sendable {
    public var record: ContentRecord
    /// The intent after its move to ACTIVE; stored only if the stored version is `expectedVersion`.
    public var intent: SharingIntent
    public var expectedVersion: Int
    public var events: [AnalyticsEvent]

    public init(record: ContentRecord, intent: SharingIntent, expectedVersion: Int, events: [AnalyticsEvent]) {
        self.record = record
        self.intent = intent
        self.expectedVersion = expectedVersion
        self.events = events
    }
}
