import Foundation
import VivimCore

/// The cross-user records of sharing and publishing (SPEC §2.1, §5, §6, §7, §8.8): intents
/// and their targets, audience answers, share links, content records, the access log,
/// analytics events, the publish outbox, scheduler leases, circle epoch keys and publishing
/// keys. Part of every `MasterStore`; both backends pass one conformance suite.
///
/// Every method that must be atomic across server instances says so; the services rely on it
/// rather than on any one process's memory.
public protocol SharingStore: Sendable {
    // MARK: Intents

    /// Stores a new intent with its targets, recipient rows and events, in one transaction.
    func insertIntent(_ intent: SharingIntent, recipients: [AudienceMember], events: [AnalyticsEvent]) async throws
    func intent(_ id: IntentID) async throws -> SharingIntent?
    /// Many new intents at once, without recipients or events (imports, benchmarks).
    func insertIntents(_ intents: [SharingIntent]) async throws
    /// Replaces the intent if the stored version is `expectedVersion` (compare-and-set), with
    /// its targets and events, atomically; false when another writer got there first.
    func updateIntent(_ intent: SharingIntent, expectedVersion: Int, events: [AnalyticsEvent]) async throws -> Bool
    func intents(_ query: IntentQuery) async throws -> Page<SharingIntent>
    /// ACTIVE intents whose content ids include `contentID` (the resolver's input).
    func activeIntents(covering contentID: ContentID) async throws -> [SharingIntent]
    /// ACTIVE intents shared with `did` directly or with one of `circleIDs`, not made by `did`.
    func receivedIntents(did: DID, circleIDs: [CircleID], page: PageRequest) async throws -> Page<SharingIntent>
    /// Intents the scheduler may have to move at `now`: VALIDATED with `publishAt ≤ now`,
    /// ACTIVE past their expiry or view budget, and ACTIVE ones with an expiry condition.
    func schedulerCandidates(now: Date, limit: Int) async throws -> [SharingIntent]
    /// The earliest future `publishAt`/expiry after `now`, for the scheduler's next wake-up.
    func nextScheduledInstant(after now: Date) async throws -> Date?
    /// Stores many scheduler moves to EXPIRED at once: each intent with compare-and-set, its
    /// links deactivated and its live record marked EXPIRED. Returns the intents that moved,
    /// with their record's content id.
    func expireIntents(_ batch: [IntentExpiry]) async throws -> [ExpiredIntent]
    /// Counts one view of the intent; returns the new count. Atomic.
    func recordView(of intentID: IntentID) async throws -> Int
    func viewCounts(of intentIDs: [IntentID]) async throws -> [IntentID: Int]

    // MARK: Audience

    /// Creates or replaces the recipient's answer.
    func setResponse(_ member: AudienceMember) async throws
    func responses(of did: DID, to intentIDs: [IntentID]) async throws -> [IntentID: RecipientResponse]
    func audience(of intentID: IntentID) async throws -> [AudienceMember]

    // MARK: Share links

    /// `conflict` if the code exists.
    func insertLink(_ link: StoredShareLink, events: [AnalyticsEvent]) async throws
    func link(code: ShareLinkCode) async throws -> StoredShareLink?
    func link(id: ShareLinkID) async throws -> StoredShareLink?
    func links(createdBy did: DID, page: PageRequest) async throws -> Page<StoredShareLink>
    /// Counts one use if the link is active, unexpired at `now`, under `maxUses`, and its intent
    /// is ACTIVE. Atomic: of concurrent calls on a `maxUses: 1` link exactly one succeeds.
    func useLink(code: ShareLinkCode, now: Date) async throws -> LinkUseOutcome
    func deactivateLink(_ id: ShareLinkID) async throws -> Bool
    func deactivateLinks(of intentID: IntentID) async throws

    // MARK: Content records and access

    /// Inserts the record and stores the intent moved to ACTIVE, only if the intent is still at
    /// `expectedVersion`; one transaction. False (and nothing written) otherwise. A second
    /// record for the same intent is a `conflict`.
    func commitPublish(_ commit: PublishCommit) async throws -> Bool
    func contentRecord(contentId: String) async throws -> ContentRecord?
    /// Replaces the intent's live record `old` by `record` (a re-sealed bundle for a changed
    /// audience) in one transaction: the old one becomes ARCHIVED. False if `old` is no longer live.
    func replaceRecord(_ old: String, with record: ContentRecord) async throws -> Bool
    /// The intent's record that is not rolled back, if any.
    func contentRecord(intentID: IntentID) async throws -> ContentRecord?
    func updateContentRecord(contentId: String, status: ContentRecordStatus, providers: [String]?, replicaCount: Int?,
                             at date: Date) async throws
    func contentRecords(_ query: ContentQuery) async throws -> Page<ContentRecord>
    func logAccess(_ access: ContentAccess) async throws
    func accessLog(contentId: String, limit: Int) async throws -> [ContentAccess]

    // MARK: Analytics events

    /// Appends events; one with a `dedupKey` already stored is skipped.
    func appendEvents(_ events: [AnalyticsEvent]) async throws
    func events(type: AnalyticsEventType?, subject: String?, limit: Int) async throws -> [AnalyticsEvent]

    // MARK: Publish outbox

    /// Stores the job unless the intent already has one; returns the stored job and whether it is new.
    func enqueuePublish(_ job: PublishJob) async throws -> (job: PublishJob, created: Bool)
    func publishJob(_ intentID: IntentID) async throws -> PublishJob?
    func updatePublishJob(_ job: PublishJob) async throws
    func deletePublishJob(_ intentID: IntentID) async throws
    func pendingPublishJobs(dueBy date: Date, limit: Int) async throws -> [PublishJob]

    // MARK: Leases

    /// Takes or renews the named lease for `holder` until `until` if it is free, expired at
    /// `now`, or already held by `holder`. Atomic across instances.
    func acquireLease(_ name: String, holder: String, until: Date, now: Date) async throws -> Bool

    // MARK: Circle epoch keys

    /// Stores a new epoch with its member capsules; `conflict` if the epoch exists.
    func insertEpochKey(_ key: StoredEpochKey, capsules: [StoredEpochCapsule]) async throws
    func currentEpochKey(of circleID: CircleID) async throws -> StoredEpochKey?
    func epochKey(of circleID: CircleID, epoch: Int) async throws -> StoredEpochKey?
    /// Adds or replaces capsules (a new member receives every epoch).
    func upsertEpochCapsules(_ capsules: [StoredEpochCapsule]) async throws
    func epochCapsules(of did: DID, circleID: CircleID) async throws -> [StoredEpochCapsule]

    // MARK: Publishing keys

    func publishingKey(of did: DID) async throws -> PublishingKeyRecord?
    /// Stores the record unless the user has one; returns the stored record.
    func storePublishingKey(_ record: PublishingKeyRecord) async throws -> PublishingKeyRecord
    func setDelegation(of did: DID, json: String) async throws
}

/// One scheduler move to EXPIRED.
public struct IntentExpiry: Sendable {
    public var intent: SharingIntent
    public var expectedVersion: Int
    public var events: [AnalyticsEvent]
    public init(intent: SharingIntent, expectedVersion: Int, events: [AnalyticsEvent]) {
        self.intent = intent
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

public struct ExpiredIntent: Sendable, Equatable {
    public var intentID: IntentID
    public var contentId: String?
    public init(intentID: IntentID, contentId: String?) {
        self.intentID = intentID
        self.contentId = contentId
    }
}

extension SharingStore {
    public func insertIntents(_ intents: [SharingIntent]) async throws {
        for intent in intents { try await insertIntent(intent, recipients: [], events: []) }
    }

    /// The portable form: one compare-and-set per intent. Stores override it with one transaction.
    public func expireIntents(_ batch: [IntentExpiry]) async throws -> [ExpiredIntent] {
        var expired: [ExpiredIntent] = []
        for item in batch where try await updateIntent(item.intent, expectedVersion: item.expectedVersion, events: item.events) {
            try await deactivateLinks(of: item.intent.id)
            let record = try await contentRecord(intentID: item.intent.id)
            if let record {
                try await updateContentRecord(contentId: record.contentId, status: .expired, providers: nil, replicaCount: nil,
                                              at: item.intent.updatedAt)
            }
            expired.append(ExpiredIntent(intentID: item.intent.id, contentId: record?.contentId))
        }
        return expired
    }
}

/// Rows of `share_permissions` (SPEC §2.1), a projection of an intent per target kept in step
/// with the intent by both stores.
struct SharePermissionRow {
    var targetType: String
    var targetID: String
    var permissions: Permissions
    var maxViews: Int?
    var expiresAt: Date?
    var status: String

    static func rows(for intent: SharingIntent, viewCount: Int) -> [SharePermissionRow] {
        let status: String
        switch intent.status {
        case .active: status = intent.spec.maxViews.map { viewCount >= $0 } == true ? "EXHAUSTED" : "ACTIVE"
        case .revoked: status = "REVOKED"
        case .expired, .archived: status = intent.spec.maxViews.map { viewCount >= $0 } == true ? "EXHAUSTED" : "EXPIRED"
        case .draft, .pending, .validated, .cancelled: return []
        }
        let targets: [(String, String)] = switch intent.spec.audience {
        case .public: [("PUBLIC", "*")]
        case .link(let id): [("LINK", id?.rawValue ?? "*")]
        case .users(let dids): dids.map { ("USER", $0.description) }
        case .circles(let ids): ids.map { ("CIRCLE", $0.rawValue) }
        }
        return targets.map {
            SharePermissionRow(targetType: $0.0, targetID: $0.1, permissions: intent.spec.permissions,
                               maxViews: intent.spec.maxViews, expiresAt: intent.effectiveExpiry, status: status)
        }
    }
}

/// The searchable columns of an intent, shared by both stores.
struct IntentColumns {
    var contentType: String
    var audienceType: String
    var publishAt: Date?
    var expiresAt: Date?
    var maxViews: Int?
    var hasCondition: Bool
    var targets: [(kind: String, target: String)]
    var document: String

    init(_ intent: SharingIntent) throws {
        contentType = intent.spec.content.type.rawValue
        audienceType = intent.spec.audience.type.rawValue
        publishAt = intent.spec.schedule?.publishAt
        expiresAt = intent.effectiveExpiry
        maxViews = intent.spec.maxViews
        if case .condition = intent.spec.expiration { hasCondition = true } else { hasCondition = false }
        var targets = intent.spec.content.ids.map { (kind: "CONTENT", target: $0.rawValue) }
        targets += intent.spec.audience.circleIDs.map { (kind: "CIRCLE", target: $0.rawValue) }
        targets += intent.spec.audience.userDIDs.map { (kind: "USER", target: $0.description) }
        targets += intent.spec.coOwners.map { (kind: "CO_OWNER", target: $0.description) }
        self.targets = targets
        document = try StoreJSON.encode(intent)
    }
}
