import Foundation
import Testing
import VivimCore
import VivimCrypto
import VivimStore

/// The sharing and publishing contract every `MasterStore` meets (SPEC §2.1, §5, §6, §7.1,
/// §8.8). Each check runs against the embedded SQLite store and a real PostgreSQL server.
/// Stored dates are whole seconds, so both stores' column precisions round-trip them exactly.
enum SharingStoreConformance {
    static let now = MasterStoreConformance.now

    // MARK: Builders

    static func at(_ seconds: Double) -> Date { now.addingTimeInterval(seconds) }

    static func makeUser(_ store: any MasterStore) async throws -> DID { try await MasterStoreConformance.makeUser(store) }

    static func makeCircle(_ store: any MasterStore, owner: DID, members: [DID] = []) async throws -> CircleID {
        let circle = Circle(id: CircleID(), name: "circle", description: nil, icon: nil, ownerDid: owner, isPrivate: true,
                            defaultPermissions: .viewOnly, createdAt: now, updatedAt: now)
        try await store.createCircle(circle, owner: CircleMember(circleID: circle.id, did: owner, role: .owner, canInvite: true, canShare: true, joinedAt: now))
        for member in members {
            try await store.addMember(CircleMember(circleID: circle.id, did: member, role: .member, canInvite: false, canShare: true, joinedAt: now))
        }
        return circle.id
    }

    static func spec(_ content: [ContentID] = [ContentID()], type: ContentType = .conversation, audience: Audience = .public,
                     schedule: Schedule? = nil, expiration: Expiration? = nil, title: String? = nil, tags: [String] = [],
                     coOwners: [DID] = []) -> IntentSpec {
        IntentSpec(content: IntentContent(type: type, ids: content), audience: audience, schedule: schedule, expiration: expiration,
                   metadata: IntentMetadata(title: title, tags: tags), coOwners: coOwners)
    }

    /// An intent created at `createdAt` and moved along the lifecycle to `status` at the same instant.
    static func makeIntent(_ owner: DID, _ spec: IntentSpec, status: IntentStatus = .active, actor: DID? = nil,
                       createdAt: Date = now) throws -> SharingIntent {
        let path: [IntentStatus] = switch status {
        case .draft: []
        case .pending: [.pending]
        case .validated: [.pending, .validated]
        case .active: [.pending, .validated, .active]
        case .expired: [.pending, .validated, .active, .expired]
        case .revoked: [.pending, .validated, .active, .revoked]
        case .archived: [.pending, .validated, .active, .expired, .archived]
        case .cancelled: [.cancelled]
        }
        var intent = SharingIntent(ownerDid: owner, actorDid: actor, spec: spec, createdAt: createdAt)
        for next in path { intent = try intent.moved(to: next, at: createdAt) }
        return intent
    }

    @discardableResult
    static func stored(_ store: any MasterStore, _ owner: DID, _ spec: IntentSpec, status: IntentStatus = .active, actor: DID? = nil,
                       createdAt: Date = now) async throws -> SharingIntent {
        let intent = try makeIntent(owner, spec, status: status, actor: actor, createdAt: createdAt)
        try await store.insertIntent(intent, recipients: [], events: [])
        return intent
    }

    static func code() throws -> ShareLinkCode {
        try ShareLinkCode(parsing: UUID().uuidString.replacingOccurrences(of: "-", with: ""))
    }

    static func makeLink(_ intent: SharingIntent, creator: DID? = nil, maxUses: Int? = nil, expiresAt: Date? = nil, createdAt: Date = now,
                     passwordHash: String? = nil) throws -> StoredShareLink {
        StoredShareLink(link: ShareLink(code: try code(), intentID: intent.id, creatorDid: creator ?? intent.ownerDid, maxUses: maxUses,
                                        expiresAt: expiresAt, requiresPassword: passwordHash != nil, createdAt: createdAt),
                        passwordHash: passwordHash, zeroKnowledge: false)
    }

    static func makeRecord(for intent: SharingIntent, contentId: String = UUID().uuidString, title: String? = nil, tags: [String] = [],
                       createdAt: Date = now) -> ContentRecord {
        ContentRecord(contentId: contentId, intentID: intent.id, ownerDid: intent.ownerDid, contentType: intent.spec.content.type,
                      sourceIDs: intent.spec.content.ids, audienceType: intent.spec.audience.type, size: 1_234, contentHash: "ab12",
                      bundleSize: 2_048, title: title, tags: tags, publicContentKey: intent.spec.audience == .public ? "key" : nil,
                      providers: ["node-1"], replicaCount: 1, status: .active, createdAt: createdAt, updatedAt: createdAt)
    }

    /// Stores a VALIDATED intent and publishes it with a record.
    @discardableResult
    static func published(_ store: any MasterStore, _ owner: DID, _ spec: IntentSpec, title: String? = nil, tags: [String] = [],
                          createdAt: Date = now) async throws -> ContentRecord {
        let validated = try await stored(store, owner, spec, status: .validated, createdAt: createdAt)
        let record = makeRecord(for: validated, title: title, tags: tags, createdAt: createdAt)
        let committed = try await store.commitPublish(PublishCommit(record: record, intent: try validated.moved(to: .active, at: createdAt),
                                                                    expectedVersion: validated.version, events: []))
        #expect(committed)
        return record
    }

    static func event(_ type: AnalyticsEventType = .contentViewed, subject: String, at date: Date = now, dedupKey: String? = nil) -> AnalyticsEvent {
        AnalyticsEvent(type: type, actorDid: nil, subject: subject, properties: ["source": "test"], at: date, dedupKey: dedupKey)
    }

    static func concurrently<T: Sendable>(_ times: Int, _ body: @escaping @Sendable () async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: T.self) { group in
            for _ in 0..<times { group.addTask { try await body() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    // MARK: Intents

    static func intentsRoundTripAndDuplicatesConflict(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        var shared = spec(audience: .users([SigningIdentity().did]), schedule: Schedule(publishAt: at(60), expiresAt: at(3_600), timezone: "Europe/Paris"),
                          title: "Notes", tags: ["a", "b"])
        shared.permissions = Permissions(view: true, copy: true)
        shared.transformations = Transformations()
        shared.transformations?.addWatermark = Watermark(text: "mine")
        let intent = try makeIntent(owner, shared, status: .validated)
        try await store.insertIntent(intent, recipients: [], events: [event(.shareCreated, subject: intent.id.rawValue)])

        #expect(try await store.intent(intent.id) == intent)
        #expect(try await store.intent(IntentID()) == nil)
        #expect(try await store.events(type: .shareCreated, subject: intent.id.rawValue, limit: 10).count == 1)
        await #expect(throws: VivimError.conflict("already exists")) { try await store.insertIntent(intent, recipients: [], events: []) }
    }

    static func updateIntentIsCompareAndSet(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let intent = try await stored(store, owner, spec(), status: .validated)
        let active = try intent.moved(to: .active, at: at(10))
        #expect(try await store.updateIntent(active, expectedVersion: intent.version, events: []))

        // A writer still holding the old version loses and writes nothing, events included.
        let cancelled = try intent.moved(to: .cancelled, at: at(20))
        #expect(try await !store.updateIntent(cancelled, expectedVersion: intent.version,
                                              events: [event(.shareRevoked, subject: intent.id.rawValue, dedupKey: "stale")]))
        #expect(try await store.intent(intent.id) == active)
        #expect(try await store.events(type: nil, subject: intent.id.rawValue, limit: 10).isEmpty)

        // Of concurrent writers at one version exactly one wins.
        let wins = try await concurrently(10) {
            var next = active.spec
            next.metadata.title = UUID().uuidString
            return try await store.updateIntent(active.updating(next, at: at(30)), expectedVersion: active.version, events: [])
        }
        #expect(wins.filter { $0 }.count == 1)
        #expect(try await store.intent(intent.id)?.version == active.version + 1)
    }

    static func intentTargetsFollowUpdates(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let first = ContentID(), second = ContentID()
        let intent = try await stored(store, owner, spec([first]))
        #expect(try await store.activeIntents(covering: first).map(\.id) == [intent.id])

        var moved = intent.spec
        moved.content.ids = [second]
        let updated = intent.updating(moved, at: at(1))
        #expect(try await store.updateIntent(updated, expectedVersion: intent.version, events: []))
        #expect(try await store.activeIntents(covering: first).isEmpty)
        #expect(try await store.activeIntents(covering: second).map(\.id) == [intent.id])

        // Only ACTIVE intents cover content.
        let revoked = try updated.moved(to: .revoked, at: at(2), reason: "done")
        #expect(try await store.updateIntent(revoked, expectedVersion: updated.version, events: []))
        #expect(try await store.activeIntents(covering: second).isEmpty)
        let validated = try await stored(store, owner, spec([second]), status: .validated)
        #expect(try await store.activeIntents(covering: second).isEmpty)
        let other = try await stored(store, owner, spec([second, ContentID()]))
        #expect(try await store.activeIntents(covering: second).map(\.id) == [other.id])
        _ = validated
    }

    static func intentListingFiltersSortsAndPages(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store), coOwner = try await makeUser(store), stranger = try await makeUser(store)
        let a = try await stored(store, owner, spec(type: .conversation, audience: .public), status: .active, createdAt: at(0))
        let b = try await stored(store, owner, spec(type: .acu, audience: .users([stranger])), status: .validated, createdAt: at(10))
        let c = try await stored(store, owner, spec(type: .collection, audience: .circles([CircleID()]), coOwners: [coOwner]),
                                 status: .draft, createdAt: at(20))
        let d = try await stored(store, owner, spec(type: .conversation, audience: .link(nil)), status: .revoked, createdAt: at(30))

        func ids(_ query: IntentQuery) async throws -> [IntentID] { try await store.intents(query).items.map(\.id) }
        let all = try await store.intents(IntentQuery(did: owner))
        #expect(all.totalItems == 4)
        #expect(all.items.map(\.id) == [d.id, c.id, b.id, a.id])
        #expect(all.items.first == d)
        #expect(try await ids(IntentQuery(did: owner, descending: false)) == [a.id, b.id, c.id, d.id])
        #expect(try await ids(IntentQuery(did: owner, status: .active)) == [a.id])
        #expect(try await ids(IntentQuery(did: owner, contentType: .conversation)) == [d.id, a.id])
        #expect(try await ids(IntentQuery(did: owner, audienceType: .users)) == [b.id])
        #expect(try await ids(IntentQuery(did: owner, createdFrom: at(10), createdUntil: at(20))) == [c.id, b.id])
        #expect(try await ids(IntentQuery(did: owner, status: .revoked, contentType: .conversation, audienceType: .link)) == [d.id])
        #expect(try await ids(IntentQuery(did: owner, status: .active, contentType: .acu)).isEmpty)

        // By publication: unpublished intents sort as the earliest, ties by id.
        #expect(try await ids(IntentQuery(did: owner, sortBy: .publishedAt)) == [d.id, a.id, b.id, c.id])
        #expect(try await ids(IntentQuery(did: owner, sortBy: .publishedAt, descending: false)) == [b.id, c.id, a.id, d.id])

        let second = try await store.intents(IntentQuery(did: owner, page: PageRequest(page: 2, pageSize: 3)))
        #expect(second.items.map(\.id) == [a.id] && second.totalItems == 4 && second.totalPages == 2 && !second.hasMore)
        let beyond = try await store.intents(IntentQuery(did: owner, page: PageRequest(page: 5, pageSize: 3)))
        #expect(beyond.items.isEmpty && beyond.totalItems == 4)

        // Co-owners and re-sharing actors see the intent; others do not.
        #expect(try await ids(IntentQuery(did: coOwner)) == [c.id])
        #expect(try await store.intents(IntentQuery(did: stranger)).totalItems == 0)
        let resharer = try await makeUser(store)
        let reshared = try await stored(store, stranger, spec(), actor: resharer)
        #expect(try await ids(IntentQuery(did: resharer)) == [reshared.id])

        // Dropping a co-owner takes the intent out of their listing.
        var without = c.spec
        without.coOwners = []
        #expect(try await store.updateIntent(c.updating(without, at: at(40)), expectedVersion: c.version, events: []))
        #expect(try await store.intents(IntentQuery(did: coOwner)).totalItems == 0)
    }

    static func receivedIntentsAreDirectOrViaCircleAndActive(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store), me = try await makeUser(store)
        let circle = try await makeCircle(store, owner: owner, members: [me])
        let direct = try await stored(store, owner, spec(audience: .users([me])), createdAt: at(0))
        let viaCircle = try await stored(store, owner, spec(audience: .circles([circle])), createdAt: at(10))
        try await stored(store, owner, spec(audience: .users([me])), status: .validated, createdAt: at(20))
        try await stored(store, owner, spec(audience: .users([me])), status: .revoked, createdAt: at(30))
        try await stored(store, owner, spec(audience: .users([SigningIdentity().did])), createdAt: at(40))
        try await stored(store, owner, spec(audience: .public), createdAt: at(50))
        // My own shares, made as owner or as actor, are not "received".
        try await stored(store, me, spec(audience: .circles([circle])), createdAt: at(60))
        try await stored(store, owner, spec(audience: .users([me])), actor: me, createdAt: at(70))

        let received = try await store.receivedIntents(did: me, circleIDs: [circle], page: PageRequest())
        #expect(received.items.map(\.id) == [viaCircle.id, direct.id])
        #expect(received.totalItems == 2)
        #expect(try await store.receivedIntents(did: me, circleIDs: [], page: PageRequest()).items.map(\.id) == [direct.id])
        let paged = try await store.receivedIntents(did: me, circleIDs: [circle], page: PageRequest(page: 2, pageSize: 1))
        #expect(paged.items.map(\.id) == [direct.id] && paged.totalItems == 2)
    }

    static func schedulerCandidatesAreDueWork(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let due = try await stored(store, owner, spec(schedule: Schedule(publishAt: at(-10))), status: .validated, createdAt: at(-100))
        try await stored(store, owner, spec(schedule: Schedule(publishAt: at(10))), status: .validated, createdAt: at(-100))
        try await stored(store, owner, spec(schedule: Schedule(publishAt: at(-10))), status: .draft, createdAt: at(-100))
        let expired = try await stored(store, owner, spec(schedule: Schedule(expiresAt: at(-5))), createdAt: at(-100))
        try await stored(store, owner, spec(schedule: Schedule(expiresAt: at(100))), createdAt: at(-100))
        let spent = try await stored(store, owner, spec(expiration: .access(maxViews: 2)), createdAt: at(-100))
        let unspent = try await stored(store, owner, spec(expiration: .access(maxViews: 2)), createdAt: at(-100))
        let condition = try await stored(store, owner, spec(audience: .users([owner]), expiration: .condition(.recipientLeavesCircle(CircleID()))),
                                         createdAt: at(-100))
        try await stored(store, owner, spec(), status: .revoked, createdAt: at(-100))
        _ = try await store.recordView(of: spent.id)
        _ = try await store.recordView(of: spent.id)
        _ = try await store.recordView(of: unspent.id)

        let candidates = try await store.schedulerCandidates(now: now, limit: 100)
        #expect(Set(candidates.map(\.id)) == [due.id, expired.id, spent.id, condition.id])
        #expect(candidates.count == 4)
        #expect(try await store.schedulerCandidates(now: now, limit: 2).count == 2)
    }

    static func nextScheduledInstantIsTheEarliestFutureDate(_ store: any MasterStore) async throws {
        #expect(try await store.nextScheduledInstant(after: now) == nil)
        let owner = try await makeUser(store)
        try await stored(store, owner, spec(schedule: Schedule(publishAt: at(100))), status: .validated)
        try await stored(store, owner, spec(schedule: Schedule(publishAt: at(-5))), status: .validated)
        try await stored(store, owner, spec(schedule: Schedule(expiresAt: at(50))))
        try await stored(store, owner, spec(schedule: Schedule(expiresAt: at(-10))))
        try await stored(store, owner, spec(schedule: Schedule(expiresAt: at(20))), status: .revoked)
        #expect(try await store.nextScheduledInstant(after: now) == at(50))
        #expect(try await store.nextScheduledInstant(after: at(60)) == at(100))
        #expect(try await store.nextScheduledInstant(after: at(100)) == nil)
    }

    static func concurrentViewsAreAllCounted(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let intent = try await stored(store, owner, spec(expiration: .access(maxViews: 100)))
        let counts = try await concurrently(50) { try await store.recordView(of: intent.id) }
        #expect(counts.sorted() == Array(1...50))
        #expect(try await store.viewCounts(of: [intent.id, IntentID()]) == [intent.id: 50])
        #expect(try await store.viewCounts(of: []).isEmpty)
        let error = await #expect(throws: VivimError.self) { try await store.recordView(of: IntentID()) }
        #expect(error?.code == .notFound)
    }

    // MARK: Audience

    static func responsesAreStoredPerRecipient(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store), listed = try await makeUser(store), other = try await makeUser(store)
        let intent = try makeIntent(owner, spec(audience: .users([listed, other])))
        try await store.insertIntent(intent, recipients: [
            AudienceMember(intentID: intent.id, did: listed, kind: .user, response: .pending, updatedAt: now),
            AudienceMember(intentID: intent.id, did: other, kind: .user, response: .pending, updatedAt: now),
        ], events: [])
        let unrelated = try await stored(store, owner, spec(audience: .users([other])))

        try await store.setResponse(AudienceMember(intentID: intent.id, did: listed, kind: .user, response: .accepted, updatedAt: at(1)))
        #expect(try await store.responses(of: listed, to: [intent.id, unrelated.id]) == [intent.id: .accepted])
        try await store.setResponse(AudienceMember(intentID: intent.id, did: listed, kind: .user, response: .declined, updatedAt: at(2)))
        #expect(try await store.responses(of: listed, to: [intent.id]) == [intent.id: .declined])
        #expect(try await store.responses(of: listed, to: []).isEmpty)

        let members = try await store.audience(of: intent.id)
        #expect(members.map(\.did.description) == [listed, other].map(\.description).sorted())
        #expect(members.first { $0.did == listed } == AudienceMember(intentID: intent.id, did: listed, kind: .user, response: .declined, updatedAt: at(2)))

        // A circle member's answer is a row of its own kind.
        let circleMember = try await makeUser(store)
        try await store.setResponse(AudienceMember(intentID: intent.id, did: circleMember, kind: .circleMember, response: .accepted, updatedAt: at(3)))
        #expect(try await store.audience(of: intent.id).first { $0.did == circleMember }?.kind == .circleMember)

        let error = await #expect(throws: VivimError.self) {
            try await store.setResponse(AudienceMember(intentID: IntentID(), did: listed, kind: .user, response: .accepted, updatedAt: now))
        }
        #expect(error?.code == .notFound)
    }

    static func audienceFollowsTheListedUsers(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store), kept = try await makeUser(store), dropped = try await makeUser(store), added = try await makeUser(store)
        let intent = try makeIntent(owner, spec(audience: .users([kept, dropped])))
        try await store.insertIntent(intent, recipients: [kept, dropped].map {
            AudienceMember(intentID: intent.id, did: $0, kind: .user, response: .pending, updatedAt: now)
        }, events: [])
        try await store.setResponse(AudienceMember(intentID: intent.id, did: kept, kind: .user, response: .accepted, updatedAt: at(1)))

        var changed = intent.spec
        changed.audience = .users([kept, added])
        let first = intent.updating(changed, at: at(5))
        #expect(try await store.updateIntent(first, expectedVersion: intent.version, events: []))
        func answers() async throws -> [DID: RecipientResponse] {
            Dictionary(uniqueKeysWithValues: try await store.audience(of: intent.id).map { ($0.did, $0.response) })
        }
        // Still listed keeps its answer; no longer listed is REMOVED; newly listed starts PENDING.
        #expect(try await answers() == [kept: .accepted, dropped: .removed, added: .pending])
        let removed = try await store.audience(of: intent.id).first { $0.did == dropped }
        #expect(removed?.updatedAt == at(5))

        // An unrelated change keeps every answer.
        var retitled = first.spec
        retitled.metadata.title = "new title"
        let second = first.updating(retitled, at: at(6))
        #expect(try await store.updateIntent(second, expectedVersion: first.version, events: []))
        #expect(try await answers() == [kept: .accepted, dropped: .removed, added: .pending])

        // Re-listed users are asked again.
        var relisted = second.spec
        relisted.audience = .users([kept, dropped])
        #expect(try await store.updateIntent(second.updating(relisted, at: at(7)), expectedVersion: second.version, events: []))
        #expect(try await answers() == [kept: .accepted, dropped: .pending, added: .removed])
        #expect(try await store.responses(of: dropped, to: [intent.id]) == [intent.id: .pending])
    }

    // MARK: Share links

    static func linksAreStoredFoundAndListed(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store), stranger = try await makeUser(store)
        let intent = try await stored(store, owner, spec(audience: .link(nil)))
        let first = try makeLink(intent, maxUses: 5, expiresAt: at(3_600), createdAt: at(0), passwordHash: "scrypt$hash")
        let second = try makeLink(intent, createdAt: at(1))
        let third = try makeLink(intent, createdAt: at(2))
        try await store.insertLink(first, events: [event(.linkCreated, subject: first.link.id.rawValue)])
        try await store.insertLink(second, events: [])
        try await store.insertLink(third, events: [])

        #expect(try await store.link(code: first.link.code) == first)
        #expect(try await store.link(id: first.link.id) == first)
        #expect(try await store.link(code: try code()) == nil)
        #expect(try await store.link(id: ShareLinkID()) == nil)
        #expect(try await store.link(id: first.link.id)?.link.requiresPassword == true)
        #expect(try await store.events(type: .linkCreated, subject: first.link.id.rawValue, limit: 5).count == 1)

        var duplicate = try makeLink(intent)
        duplicate.link.code = first.link.code
        await #expect(throws: VivimError.conflict("already exists")) { try await store.insertLink(duplicate, events: []) }
        let orphan = await #expect(throws: VivimError.self) { try await store.insertLink(try makeLink(try makeIntent(owner, spec())), events: []) }
        #expect(orphan?.code == .notFound)

        let page = try await store.links(createdBy: owner, page: PageRequest(page: 1, pageSize: 2))
        #expect(page.items == [third, second] && page.totalItems == 3 && page.hasMore)
        #expect(try await store.links(createdBy: owner, page: PageRequest(page: 2, pageSize: 2)).items == [first])
        #expect(try await store.links(createdBy: stranger, page: PageRequest()).totalItems == 0)
    }

    static func linkUsesAreCountedUntilTheLinkStops(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let intent = try await stored(store, owner, spec(audience: .link(nil)))

        let open = try makeLink(intent)
        try await store.insertLink(open, events: [])
        guard case .used(let used) = try await store.useLink(code: open.link.code, now: now) else { Issue.record("not used"); return }
        #expect(used.link.usesCount == 1 && used.link.id == open.link.id && used.passwordHash == nil)
        guard case .used(let again) = try await store.useLink(code: open.link.code, now: now) else { Issue.record("not used"); return }
        #expect(again.link.usesCount == 2)
        #expect(try await store.link(id: open.link.id)?.link.usesCount == 2)

        let twice = try makeLink(intent, maxUses: 2)
        try await store.insertLink(twice, events: [])
        for _ in 0..<2 {
            guard case .used = try await store.useLink(code: twice.link.code, now: now) else { Issue.record("not used"); return }
        }
        #expect(try await store.useLink(code: twice.link.code, now: now) == .refused(.exhausted))
        #expect(try await store.link(id: twice.link.id)?.link.usesCount == 2)

        let expiring = try makeLink(intent, expiresAt: at(10))
        try await store.insertLink(expiring, events: [])
        #expect(try await store.useLink(code: expiring.link.code, now: at(10)) == .refused(.expired))
        guard case .used = try await store.useLink(code: expiring.link.code, now: at(9)) else { Issue.record("not used"); return }

        let disabled = try makeLink(intent, expiresAt: at(10))
        try await store.insertLink(disabled, events: [])
        #expect(try await store.deactivateLink(disabled.link.id))
        #expect(try await store.useLink(code: disabled.link.code, now: now) == .refused(.disabled))
        // Disabled wins over expired.
        #expect(try await store.useLink(code: disabled.link.code, now: at(20)) == .refused(.disabled))

        // A link dies with its intent.
        let revoked = try await stored(store, owner, spec(audience: .link(nil)), status: .revoked)
        let orphaned = try makeLink(revoked)
        try await store.insertLink(orphaned, events: [])
        #expect(try await store.useLink(code: orphaned.link.code, now: now) == .refused(.disabled))
        #expect(try await store.link(id: orphaned.link.id)?.link.usesCount == 0)

        #expect(try await store.useLink(code: try code(), now: now) == .notFound)
    }

    static func aSingleUseLinkIsUsedOnceUnderConcurrency(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let intent = try await stored(store, owner, spec(audience: .link(nil)))
        let single = try makeLink(intent, maxUses: 1)
        try await store.insertLink(single, events: [])
        let outcomes = try await concurrently(50) { try await store.useLink(code: single.link.code, now: now) }
        let used = outcomes.filter { if case .used = $0 { true } else { false } }
        #expect(used.count == 1)
        #expect(outcomes.filter { $0 == .refused(.exhausted) }.count == 49)
        #expect(try await store.link(id: single.link.id)?.link.usesCount == 1)
    }

    static func linksAreDeactivatedOneByOneOrPerIntent(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let intent = try await stored(store, owner, spec(audience: .link(nil)))
        let other = try await stored(store, owner, spec(audience: .link(nil)))
        let links = try [makeLink(intent), makeLink(intent), makeLink(other)]
        for link in links { try await store.insertLink(link, events: []) }

        #expect(try await store.deactivateLink(links[0].link.id))
        #expect(try await !store.deactivateLink(links[0].link.id))
        #expect(try await !store.deactivateLink(ShareLinkID()))
        try await store.deactivateLinks(of: intent.id)
        #expect(try await store.link(id: links[1].link.id)?.link.isActive == false)
        #expect(try await store.link(id: links[2].link.id)?.link.isActive == true)
    }

    // MARK: Content records

    static func commitPublishIsAllOrNothing(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let validated = try await stored(store, owner, spec(), status: .validated)
        let first = makeRecord(for: validated, title: "first")
        let active = try validated.moved(to: .active, at: at(10))

        // A stale version writes nothing.
        #expect(try await !store.commitPublish(PublishCommit(record: first, intent: active, expectedVersion: validated.version - 1, events: [])))
        #expect(try await store.contentRecord(contentId: first.contentId) == nil)
        #expect(try await store.intent(validated.id) == validated)

        let published = event(.sharePublished, subject: validated.id.rawValue, dedupKey: "publish-\(validated.id)")
        #expect(try await store.commitPublish(PublishCommit(record: first, intent: active, expectedVersion: validated.version, events: [published])))
        #expect(try await store.intent(validated.id) == active)
        #expect(try await store.contentRecord(contentId: first.contentId) == first)
        #expect(try await store.contentRecord(intentID: validated.id) == first)
        #expect(try await store.events(type: .sharePublished, subject: validated.id.rawValue, limit: 5).count == 1)

        // A second live record of the intent is a conflict, and the intent's move is undone with it.
        var bumped = active
        bumped.version += 1
        let second = makeRecord(for: validated, title: "second")
        await #expect(throws: VivimError.conflict("already exists")) {
            _ = try await store.commitPublish(PublishCommit(record: second, intent: bumped, expectedVersion: active.version, events: []))
        }
        #expect(try await store.intent(validated.id) == active)
        #expect(try await store.contentRecord(contentId: second.contentId) == nil)

        // Rolling the record back frees the intent for a new one.
        try await store.updateContentRecord(contentId: first.contentId, status: .rolledBack, providers: nil, replicaCount: nil, at: at(20))
        #expect(try await store.contentRecord(intentID: validated.id) == nil)
        #expect(try await store.contentRecord(contentId: first.contentId)?.status == .rolledBack)
        #expect(try await store.commitPublish(PublishCommit(record: second, intent: bumped, expectedVersion: active.version, events: [])))
        #expect(try await store.contentRecord(intentID: validated.id) == second)
    }

    static func contentRecordsAreUpdated(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store)
        let record = try await published(store, owner, spec(), title: "t")
        try await store.updateContentRecord(contentId: record.contentId, status: .active, providers: ["node-1", "node-2"], replicaCount: 2, at: at(5))
        var expected = record
        expected.providers = ["node-1", "node-2"]
        expected.replicaCount = 2
        expected.updatedAt = at(5)
        #expect(try await store.contentRecord(contentId: record.contentId) == expected)

        // Nil providers and replica count keep the stored ones.
        try await store.updateContentRecord(contentId: record.contentId, status: .expired, providers: nil, replicaCount: nil, at: at(6))
        expected.status = .expired
        expected.updatedAt = at(6)
        #expect(try await store.contentRecord(contentId: record.contentId) == expected)
        // Still the intent's record: only a rollback detaches it.
        #expect(try await store.contentRecord(intentID: record.intentID) == expected)
        #expect(try await store.contentRecords(ContentQuery()).totalItems == 0)
        // Updating an unknown record is a no-op.
        try await store.updateContentRecord(contentId: "missing", status: .revoked, providers: nil, replicaCount: nil, at: at(7))
    }

    static func contentSearchMatchesTextTagsAndFilters(_ store: any MasterStore) async throws {
        let alice = try await makeUser(store), bob = try await makeUser(store)
        let tips = try await published(store, alice, spec(type: .conversation, audience: .public), title: "Swift Tips", tags: ["swift", "ios"], createdAt: at(0))
        let percent = try await published(store, alice, spec(type: .acu, audience: .users([bob])), title: "100% sure", tags: ["math"], createdAt: at(1))
        let thousand = try await published(store, bob, spec(type: .conversation, audience: .public), title: "1000 sure", tags: ["math_club"], createdAt: at(2))
        let underscore = try await published(store, bob, spec(type: .notebook, audience: .circles([CircleID()])), title: "a_b notes", createdAt: at(3))
        let lookalike = try await published(store, alice, spec(type: .conversation, audience: .public), title: "axb notes", tags: ["swift"], createdAt: at(4))
        let gone = try await published(store, alice, spec(), title: "Swift gone", tags: ["swift"], createdAt: at(5))
        try await store.updateContentRecord(contentId: gone.contentId, status: .revoked, providers: nil, replicaCount: nil, at: at(6))

        func search(_ query: ContentQuery) async throws -> [String] { try await store.contentRecords(query).items.map(\.contentId) }
        let all = try await store.contentRecords(ContentQuery())
        #expect(all.items.map(\.contentId) == [lookalike, underscore, thousand, percent, tips].map(\.contentId))
        #expect(all.totalItems == 5)
        #expect(all.items.last == tips)

        // Text matches titles (ignoring case) and tags; only ACTIVE records.
        #expect(try await search(ContentQuery(text: "swift")) == [lookalike.contentId, tips.contentId])
        #expect(try await search(ContentQuery(text: "SURE")) == [thousand.contentId, percent.contentId])
        #expect(try await search(ContentQuery(text: "math")) == [thousand.contentId, percent.contentId])
        // LIKE metacharacters in the text are literal.
        #expect(try await search(ContentQuery(text: "0%")) == [percent.contentId])
        #expect(try await search(ContentQuery(text: "a_b")) == [underscore.contentId])
        #expect(try await search(ContentQuery(text: "%")) == [percent.contentId])
        #expect(try await search(ContentQuery(text: "")).count == 5)

        // Tags match whole tags, all of them.
        #expect(try await search(ContentQuery(tags: ["math"])) == [percent.contentId])
        #expect(try await search(ContentQuery(tags: ["swift", "ios"])) == [tips.contentId])
        #expect(try await search(ContentQuery(tags: ["swift"])) == [lookalike.contentId, tips.contentId])

        #expect(try await search(ContentQuery(ownerDid: bob)) == [underscore.contentId, thousand.contentId])
        #expect(try await search(ContentQuery(contentType: .conversation)) == [lookalike.contentId, thousand.contentId, tips.contentId])
        #expect(try await search(ContentQuery(audienceType: .circle)) == [underscore.contentId])
        #expect(try await search(ContentQuery(text: "notes", ownerDid: alice)) == [lookalike.contentId])
        #expect(try await search(ContentQuery(intentIDs: [tips.intentID, underscore.intentID, gone.intentID])) == [underscore.contentId, tips.contentId])
        let none = try await store.contentRecords(ContentQuery(intentIDs: []))
        #expect(none.items.isEmpty && none.totalItems == 0)

        let page = try await store.contentRecords(ContentQuery(page: PageRequest(page: 2, pageSize: 2)))
        #expect(page.items.map(\.contentId) == [thousand.contentId, percent.contentId] && page.totalItems == 5)
    }

    static func accessLogIsNewestFirst(_ store: any MasterStore) async throws {
        let viewer = try await makeUser(store)
        let intentID = IntentID()
        let entries = [
            ContentAccess(contentId: "c1", intentID: intentID, accessorDid: viewer, type: .view, success: true, at: at(0)),
            ContentAccess(contentId: "c1", intentID: nil, accessorDid: nil, type: .download, success: false, errorCode: "FORBIDDEN", at: at(1)),
            ContentAccess(contentId: "c1", intentID: intentID, accessorDid: viewer, type: .copy, success: true, at: at(2)),
            ContentAccess(contentId: "c2", intentID: nil, accessorDid: nil, type: .view, success: true, at: at(3)),
        ]
        for entry in entries { try await store.logAccess(entry) }
        #expect(try await store.accessLog(contentId: "c1", limit: 10) == [entries[2], entries[1], entries[0]])
        #expect(try await store.accessLog(contentId: "c1", limit: 2) == [entries[2], entries[1]])
        #expect(try await store.accessLog(contentId: "none", limit: 10).isEmpty)
    }

    // MARK: Analytics events

    static func eventsWithADedupKeyAreStoredOnce(_ store: any MasterStore) async throws {
        let keyed = event(.shareExpired, subject: "s", at: at(0), dedupKey: "expire-s-3")
        let plain = event(.contentViewed, subject: "s", at: at(1))
        try await store.appendEvents([keyed, plain])
        try await store.appendEvents([keyed, plain])
        try await store.appendEvents([])
        // A key repeated inside one batch is stored once too.
        let batch = event(.linkClicked, subject: "t", at: at(2), dedupKey: "click")
        try await store.appendEvents([batch, batch])

        #expect(try await store.events(type: nil, subject: "s", limit: 10) == [keyed, plain, plain])
        #expect(try await store.events(type: .shareExpired, subject: nil, limit: 10) == [keyed])
        #expect(try await store.events(type: .linkClicked, subject: "t", limit: 10) == [batch])
        #expect(try await store.events(type: nil, subject: nil, limit: 2) == [keyed, plain])
        #expect(try await store.events(type: .shareCreated, subject: nil, limit: 10).isEmpty)
    }

    // MARK: Publish outbox

    static func publishJobsAreQueuedOncePerIntent(_ store: any MasterStore) async throws {
        let intentID = IntentID()
        let job = PublishJob(intentID: intentID, intentVersion: 3, nextAttemptAt: at(0), createdAt: at(0), updatedAt: at(0))
        let first = try await store.enqueuePublish(job)
        #expect(first.created && first.job == job)
        var newer = job
        newer.intentVersion = 4
        let second = try await store.enqueuePublish(newer)
        #expect(!second.created && second.job == job)

        // Of concurrent enqueues exactly one creates the job.
        let raced = IntentID()
        let results = try await concurrently(20) {
            try await store.enqueuePublish(PublishJob(intentID: raced, intentVersion: 1, nextAttemptAt: at(0), createdAt: at(0), updatedAt: at(0)))
        }
        #expect(results.filter { $0.created }.count == 1)
        #expect(Set(results.map { $0.job.intentID }) == [raced])

        var sealed = job
        sealed.stage = .sealed
        sealed.contentId = "bundle"
        sealed.attempts = 1
        sealed.lastError = "timeout"
        sealed.nextAttemptAt = at(30)
        sealed.updatedAt = at(5)
        try await store.updatePublishJob(sealed)
        #expect(try await store.publishJob(intentID) == sealed)

        try await store.deletePublishJob(intentID)
        try await store.deletePublishJob(raced)
        #expect(try await store.publishJob(intentID) == nil)
        #expect(try await store.enqueuePublish(job).created)
    }

    static func pendingPublishJobsAreDueAndNotFailed(_ store: any MasterStore) async throws {
        func job(due seconds: Double, stage: PublishStage = .queued) -> PublishJob {
            PublishJob(intentID: IntentID(), intentVersion: 1, stage: stage, nextAttemptAt: at(seconds), createdAt: at(-100), updatedAt: at(-100))
        }
        let later = job(due: -10), sooner = job(due: -20, stage: .sealed), future = job(due: 100), failed = job(due: -30, stage: .failed)
        let recorded = job(due: 0, stage: .recorded)
        for job in [later, sooner, future, failed, recorded] { _ = try await store.enqueuePublish(job) }
        #expect(try await store.pendingPublishJobs(dueBy: now, limit: 10) == [sooner, later, recorded])
        #expect(try await store.pendingPublishJobs(dueBy: now, limit: 1) == [sooner])
        #expect(try await store.pendingPublishJobs(dueBy: at(-50), limit: 10).isEmpty)
    }

    // MARK: Leases

    static func leasesGoToOneHolderUntilExpiry(_ store: any MasterStore) async throws {
        #expect(try await store.acquireLease("scheduler", holder: "a", until: at(30), now: now))
        #expect(try await !store.acquireLease("scheduler", holder: "b", until: at(30), now: at(10)))
        #expect(try await store.acquireLease("scheduler", holder: "a", until: at(60), now: at(20)))  // renewal
        #expect(try await !store.acquireLease("scheduler", holder: "b", until: at(90), now: at(40)))
        #expect(try await store.acquireLease("other", holder: "b", until: at(30), now: now))  // names are independent
        #expect(try await store.acquireLease("scheduler", holder: "b", until: at(120), now: at(60)))  // expired
        #expect(try await !store.acquireLease("scheduler", holder: "a", until: at(150), now: at(70)))

        let winners = try await concurrently(10) {
            try await store.acquireLease("race", holder: UUID().uuidString, until: at(30), now: now)
        }
        #expect(winners.filter { $0 }.count == 1)
    }

    // MARK: Circle epoch keys

    static func epochKeysAndCapsules(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store), member = try await makeUser(store), joiner = try await makeUser(store)
        let circle = try await makeCircle(store, owner: owner, members: [member])
        #expect(try await store.currentEpochKey(of: circle) == nil)

        func key(_ epoch: Int) -> StoredEpochKey {
            StoredEpochKey(circleID: circle, epoch: epoch, sealedKey: SecureRandom.bytes(60), createdAt: at(Double(epoch)))
        }
        func capsule(_ epoch: Int, _ did: DID, _ text: String = "{}") -> StoredEpochCapsule {
            StoredEpochCapsule(circleID: circle, epoch: epoch, memberDid: did, capsuleJSON: "{\"e\":\(epoch),\"t\":\"\(text)\"}")
        }
        let one = key(1), two = key(2)
        try await store.insertEpochKey(one, capsules: [capsule(1, owner), capsule(1, member)])
        try await store.insertEpochKey(two, capsules: [capsule(2, owner)])
        await #expect(throws: VivimError.conflict("already exists")) { try await store.insertEpochKey(key(2), capsules: []) }
        let orphan = await #expect(throws: VivimError.self) {
            try await store.insertEpochKey(StoredEpochKey(circleID: CircleID(), epoch: 1, sealedKey: [1], createdAt: now), capsules: [])
        }
        #expect(orphan?.code == .notFound)

        #expect(try await store.currentEpochKey(of: circle) == two)
        #expect(try await store.epochKey(of: circle, epoch: 1) == one)
        #expect(try await store.epochKey(of: circle, epoch: 3) == nil)
        #expect(try await store.epochCapsules(of: owner, circleID: circle) == [capsule(1, owner), capsule(2, owner)])
        #expect(try await store.epochCapsules(of: member, circleID: circle) == [capsule(1, member)])

        // A new member receives every epoch; a re-sealed capsule replaces the old one.
        try await store.upsertEpochCapsules([capsule(2, joiner), capsule(1, joiner), capsule(1, member, "resealed")])
        try await store.upsertEpochCapsules([])
        #expect(try await store.epochCapsules(of: joiner, circleID: circle) == [capsule(1, joiner), capsule(2, joiner)])
        #expect(try await store.epochCapsules(of: member, circleID: circle) == [capsule(1, member, "resealed")])
        let missing = await #expect(throws: VivimError.self) { try await store.upsertEpochCapsules([capsule(9, joiner)]) }
        #expect(missing?.code == .notFound)
    }

    // MARK: Publishing keys

    static func publishingKeysAreStoredOnce(_ store: any MasterStore) async throws {
        let did = try await makeUser(store)
        #expect(try await store.publishingKey(of: did) == nil)
        let first = PublishingKeyRecord(did: did, sealedSeed: SecureRandom.bytes(60), publicKey: SecureRandom.bytes(32), delegationJSON: nil, createdAt: now)
        let second = PublishingKeyRecord(did: did, sealedSeed: SecureRandom.bytes(60), publicKey: SecureRandom.bytes(32), delegationJSON: nil, createdAt: at(1))
        #expect(try await store.storePublishingKey(first) == first)
        #expect(try await store.storePublishingKey(second) == first)

        try await store.setDelegation(of: did, json: "{\"signed\":true}")
        var delegated = first
        delegated.delegationJSON = "{\"signed\":true}"
        #expect(try await store.publishingKey(of: did) == delegated)

        let stranger = SigningIdentity().did
        let unknown = await #expect(throws: VivimError.self) {
            _ = try await store.storePublishingKey(PublishingKeyRecord(did: stranger, sealedSeed: [1], publicKey: [2], delegationJSON: nil, createdAt: now))
        }
        #expect(unknown?.code == .notFound)
        let noKey = await #expect(throws: VivimError.self) { try await store.setDelegation(of: stranger, json: "{}") }
        #expect(noKey?.code == .notFound)
    }
}

@Suite struct SharingStoreSQLiteTests {
    @Test func intentsRoundTripAndDuplicatesConflict() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.intentsRoundTripAndDuplicatesConflict) }
    @Test func updateIntentIsCompareAndSet() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.updateIntentIsCompareAndSet) }
    @Test func intentTargetsFollowUpdates() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.intentTargetsFollowUpdates) }
    @Test func intentListingFiltersSortsAndPages() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.intentListingFiltersSortsAndPages) }
    @Test func receivedIntentsAreDirectOrViaCircleAndActive() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.receivedIntentsAreDirectOrViaCircleAndActive) }
    @Test func schedulerCandidatesAreDueWork() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.schedulerCandidatesAreDueWork) }
    @Test func nextScheduledInstantIsTheEarliestFutureDate() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.nextScheduledInstantIsTheEarliestFutureDate) }
    @Test func concurrentViewsAreAllCounted() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.concurrentViewsAreAllCounted) }
    @Test func responsesAreStoredPerRecipient() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.responsesAreStoredPerRecipient) }
    @Test func audienceFollowsTheListedUsers() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.audienceFollowsTheListedUsers) }
    @Test func linksAreStoredFoundAndListed() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.linksAreStoredFoundAndListed) }
    @Test func linkUsesAreCountedUntilTheLinkStops() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.linkUsesAreCountedUntilTheLinkStops) }
    @Test func aSingleUseLinkIsUsedOnceUnderConcurrency() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.aSingleUseLinkIsUsedOnceUnderConcurrency) }
    @Test func linksAreDeactivatedOneByOneOrPerIntent() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.linksAreDeactivatedOneByOneOrPerIntent) }
    @Test func commitPublishIsAllOrNothing() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.commitPublishIsAllOrNothing) }
    @Test func contentRecordsAreUpdated() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.contentRecordsAreUpdated) }
    @Test func contentSearchMatchesTextTagsAndFilters() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.contentSearchMatchesTextTagsAndFilters) }
    @Test func accessLogIsNewestFirst() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.accessLogIsNewestFirst) }
    @Test func eventsWithADedupKeyAreStoredOnce() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.eventsWithADedupKeyAreStoredOnce) }
    @Test func publishJobsAreQueuedOncePerIntent() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.publishJobsAreQueuedOncePerIntent) }
    @Test func pendingPublishJobsAreDueAndNotFailed() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.pendingPublishJobsAreDueAndNotFailed) }
    @Test func leasesGoToOneHolderUntilExpiry() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.leasesGoToOneHolderUntilExpiry) }
    @Test func epochKeysAndCapsules() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.epochKeysAndCapsules) }
    @Test func publishingKeysAreStoredOnce() async throws { try await TestDatabasesRun.sqlite(SharingStoreConformance.publishingKeysAreStoredOnce) }
}

/// The same contract on a real PostgreSQL server (started by scripts/test.sh; never skipped).
@Suite struct SharingStorePostgreSQLTests {
    @Test func intentsRoundTripAndDuplicatesConflict() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.intentsRoundTripAndDuplicatesConflict) }
    @Test func updateIntentIsCompareAndSet() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.updateIntentIsCompareAndSet) }
    @Test func intentTargetsFollowUpdates() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.intentTargetsFollowUpdates) }
    @Test func intentListingFiltersSortsAndPages() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.intentListingFiltersSortsAndPages) }
    @Test func receivedIntentsAreDirectOrViaCircleAndActive() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.receivedIntentsAreDirectOrViaCircleAndActive) }
    @Test func schedulerCandidatesAreDueWork() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.schedulerCandidatesAreDueWork) }
    @Test func nextScheduledInstantIsTheEarliestFutureDate() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.nextScheduledInstantIsTheEarliestFutureDate) }
    @Test func concurrentViewsAreAllCounted() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.concurrentViewsAreAllCounted) }
    @Test func responsesAreStoredPerRecipient() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.responsesAreStoredPerRecipient) }
    @Test func audienceFollowsTheListedUsers() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.audienceFollowsTheListedUsers) }
    @Test func linksAreStoredFoundAndListed() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.linksAreStoredFoundAndListed) }
    @Test func linkUsesAreCountedUntilTheLinkStops() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.linkUsesAreCountedUntilTheLinkStops) }
    @Test func aSingleUseLinkIsUsedOnceUnderConcurrency() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.aSingleUseLinkIsUsedOnceUnderConcurrency) }
    @Test func linksAreDeactivatedOneByOneOrPerIntent() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.linksAreDeactivatedOneByOneOrPerIntent) }
    @Test func commitPublishIsAllOrNothing() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.commitPublishIsAllOrNothing) }
    @Test func contentRecordsAreUpdated() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.contentRecordsAreUpdated) }
    @Test func contentSearchMatchesTextTagsAndFilters() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.contentSearchMatchesTextTagsAndFilters) }
    @Test func accessLogIsNewestFirst() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.accessLogIsNewestFirst) }
    @Test func eventsWithADedupKeyAreStoredOnce() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.eventsWithADedupKeyAreStoredOnce) }
    @Test func publishJobsAreQueuedOncePerIntent() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.publishJobsAreQueuedOncePerIntent) }
    @Test func pendingPublishJobsAreDueAndNotFailed() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.pendingPublishJobsAreDueAndNotFailed) }
    @Test func leasesGoToOneHolderUntilExpiry() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.leasesGoToOneHolderUntilExpiry) }
    @Test func epochKeysAndCapsules() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.epochKeysAndCapsules) }
    @Test func publishingKeysAreStoredOnce() async throws { try await TestDatabasesRun.postgres(SharingStoreConformance.publishingKeysAreStoredOnce) }
}
