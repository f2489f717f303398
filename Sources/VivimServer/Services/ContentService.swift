import Foundation
import Logging
import VivimCRDT
import VivimCore
import VivimCrypto
import VivimPipeline
import VivimStore

/// Published content as the access routes answer it (SPEC §7.6).
struct ContentAccessView: Encodable {
    struct Metadata: Encodable {
        var contentId: String
        var intentId: String
        var ownerDid: String
        var contentType: String
        var audience: String
        var title: String?
        var tags: [String]
        var size: Int
        var providers: [String]
        var replicaCount: Int
        var status: String
        var publishedAt: Date
        var expiresAt: Date?
        /// Views counted by every node serving this content, merged through the `views:<contentId>`
        /// CRDT document (SPEC §9; present when this server runs a node).
        var networkViews: UInt64?
    }
    var content: ContentBundle
    var metadata: Metadata
    var permissions: Permissions
    /// PUBLIC shares only: the base64url content key (SPEC §7.2).
    var contentKey: String?
    var zeroKnowledge: Bool
}

struct ContentSummaryView: Encodable {
    var contentId: String
    var intentId: String
    var ownerDid: String
    var contentType: String
    var audience: String
    var title: String?
    var tags: [String]
    var size: Int
    var publishedAt: Date
}

/// Content access: every read is checked by the resolver against the record's intent, logged,
/// and counted (the intent's view budget, the owner's own statistics).
final class ContentService: Sendable {
    let master: any MasterStore
    let userDatabases: UserDatabaseManager
    let bundles: BundleStore
    let distributor: any Distributor
    let audit: AuditTrail
    let clock: any WallClock
    let scheduler: SchedulerService
    let network: ServerNetwork?
    let logger: Logger

    init(master: any MasterStore, userDatabases: UserDatabaseManager, bundles: BundleStore, distributor: any Distributor,
         audit: AuditTrail, clock: any WallClock, scheduler: SchedulerService, network: ServerNetwork?, logger: Logger) {
        self.network = network
        self.master = master
        self.userDatabases = userDatabases
        self.bundles = bundles
        self.distributor = distributor
        self.audit = audit
        self.clock = clock
        self.scheduler = scheduler
        self.logger = logger
    }

    var resolver: PermissionService { PermissionService(master: master, clock: clock) }

    /// Reads one published bundle for `caller` (nil: an anonymous visitor) or for a link holder.
    func access(_ contentId: String, caller: DID?, viaLink: IntentID? = nil, client: String?) async throws -> ContentAccessView {
        guard BundleStore.isContentID(contentId), let record = try await master.contentRecord(contentId: contentId),
              let intent = try await master.intent(record.intentID)
        else { throw VivimError.notFound("content not found") }
        let isOwner = caller == record.ownerDid
        var permissions = Permissions.all
        if !isOwner {
            guard record.status == .active, let source = record.sourceIDs.first else {
                await log(record, caller: caller, success: false, error: "NOT_SERVING")
                throw VivimError.notFound("content not found")
            }
            let effective = try await resolver.effective(contentID: source, owner: record.ownerDid, asker: caller, intents: [intent],
                                                         linkGrants: viaLink.map { [$0] } ?? [])
            guard effective.permissions.view else {
                await log(record, caller: caller, success: false, error: "NO_ACCESS")
                throw VivimError.notFound("content not found")
            }
            permissions = effective.permissions
            // The view budget is spent atomically: past maxViews nobody is served.
            if intent.spec.maxViews != nil || intent.spec.policy.trackViews {
                let count = try await master.recordView(of: intent.id)
                if let max = intent.spec.maxViews {
                    if count >= max { scheduler.sweepSoon() }
                    guard count <= max else {
                        await log(record, caller: caller, success: false, error: "VIEW_BUDGET_SPENT")
                        throw VivimError.notFound("content not found")
                    }
                }
            }
            await countView(record, viewer: caller)
        }
        let networkViews = await networkViewCount(record, counting: !isOwner)
        var stored = try bundles.get(contentId)
        if stored == nil { stored = try await distributor.fetch(contentId: contentId) }
        guard let bytes = stored else {
            throw VivimError(.serviceUnavailable, "the bundle is not reachable right now; try again")
        }
        let bundle = try ContentBundle(jsonData: bytes)
        await log(record, caller: caller, success: true, error: nil)
        if !isOwner {
            await audit.record(.shareAccess, actor: caller, subject: contentId, details: ["intent": intent.id.rawValue], client: client)
            try? await master.appendEvents([AnalyticsEvent(type: .contentViewed, actorDid: intent.spec.policy.allowAnalytics ? caller : nil,
                                                           subject: contentId, properties: ["intent": intent.id.rawValue], at: clock.now)])
        }
        return ContentAccessView(
            content: bundle,
            metadata: .init(contentId: record.contentId, intentId: record.intentID.rawValue, ownerDid: record.ownerDid.description,
                            contentType: record.contentType.rawValue, audience: record.audienceType.rawValue, title: record.title,
                            tags: record.tags, size: record.size, providers: record.providers, replicaCount: record.replicaCount,
                            status: record.status.rawValue, publishedAt: intent.publishedAt ?? record.createdAt, expiresAt: intent.effectiveExpiry,
                            networkViews: networkViews),
            permissions: permissions, contentKey: record.publicContentKey, zeroKnowledge: record.audienceType == .link)
    }

    /// Counts the view in the owner's own file (SPEC §9 `content_stats`); the viewer is kept only
    /// as a pseudonym.
    private func countView(_ record: ContentRecord, viewer: DID?) async {
        do {
            let database = try userDatabases.database(for: record.ownerDid)
            let pseudonym = viewer.map { Hashing.sha256Hex("vivim/viewer/v1|\(record.ownerDid)|\($0)") }
            try await database.recordView(contentIDs: record.sourceIDs.map(\.rawValue), viewer: pseudonym, at: clock.now)
        } catch {
            logger.warning("view count not recorded", metadata: ["content": "\(record.contentId)", "error": "\(error)"])
        }
    }

    /// Counts the view in the content's `views:<contentId>` G-Counter on this server's node and
    /// answers the total merged from every node that served it (SPEC §8.4 product use).
    private func networkViewCount(_ record: ContentRecord, counting: Bool) async -> UInt64? {
        guard let node = network?.node else { return nil }
        do {
            let document = try await node.openDocument(.views(record.contentId))
            if counting {
                let peer = node.peerID.description
                try await document.change(ViewCounter.self) { $0.recordViews(1, servedBy: peer) }
            }
            return try await document.read(ViewCounter.self).total
        } catch {
            logger.warning("network view count not recorded", metadata: ["content": "\(record.contentId)", "error": "\(error)"])
            return nil
        }
    }

    private func log(_ record: ContentRecord, caller: DID?, success: Bool, error: String?) async {
        do {
            try await master.logAccess(ContentAccess(contentId: record.contentId, intentID: record.intentID, accessorDid: caller, type: .view,
                                                     success: success, errorCode: error, at: clock.now))
        } catch {
            logger.warning("access log write failed", metadata: ["error": "\(error)"])
        }
    }

    /// Search among shared content the caller may see: public shares, shares made to them, their own.
    func search(_ query: ContentQuery, caller: DID?, sharing: SharingService) async throws -> Page<ContentRecord> {
        var query = query
        guard let caller else {
            if let audience = query.audienceType, audience != .public { return Page(items: [], totalItems: 0, request: query.page) }
            query.audienceType = .public
            return try await master.contentRecords(query)
        }
        var visible: [IntentID] = []
        let circles = try await sharing.circleIDs(of: caller)
        for page in 1...10 {
            let received = try await master.receivedIntents(did: caller, circleIDs: circles, page: PageRequest(page: page, pageSize: 100))
            visible += received.items.map(\.id)
            if !received.hasMore { break }
        }
        for page in 1...10 {
            let own = try await master.intents(IntentQuery(did: caller, status: .active, page: PageRequest(page: page, pageSize: 100)))
            visible += own.items.map(\.id)
            if !own.hasMore { break }
        }
        query.visibleTo = ContentQuery.Visibility(intentIDs: visible, includePublic: true)
        return try await master.contentRecords(query)
    }
}
