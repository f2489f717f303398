import Crypto
import Foundation
import Logging
import VivimCore
import VivimCrypto
import VivimPipeline
import VivimStore

/// What the client may add to a create body beyond the draft: a client-chosen id and creation
/// time with the actor's signature over the intent (`SharingIntent.signingPayload`), so the
/// stored intent carries the actor's own Ed25519 signature (SPEC §5.1 `signature`).
struct IntentSignatureEnvelope: Decodable {
    var id: String?
    var createdAt: String?
    var signature: String?
}

/// Sharing intents (SPEC §5): creation with validation and policy, updates, the lifecycle,
/// recipients' answers, received shares and suggestions. Facts are looked up here (the owner's
/// file, circles, members, users) and handed to the pure core in VivimCore, which decides.
final class SharingService: Sendable {
    let master: any MasterStore
    let userDatabases: UserDatabaseManager
    let pipeline: PublishingPipeline
    let distributor: any Distributor
    let bundles: BundleStore
    let audit: AuditTrail
    let clock: any WallClock
    let logger: Logger

    init(master: any MasterStore, userDatabases: UserDatabaseManager, pipeline: PublishingPipeline, distributor: any Distributor,
         bundles: BundleStore, audit: AuditTrail, clock: any WallClock, logger: Logger) {
        self.master = master
        self.userDatabases = userDatabases
        self.pipeline = pipeline
        self.distributor = distributor
        self.bundles = bundles
        self.audit = audit
        self.clock = clock
        self.logger = logger
    }

    // MARK: Create and update

    func create(_ draft: SharingIntentDraft, signature envelope: IntentSignatureEnvelope, caller: DID, client: String?)
        async throws -> (SharingIntent, ValidationReport) {
        let now = clock.now
        let (parsed, report, decision) = try await check(draft, actor: caller, now: now, client: client)
        var spec = parsed.spec
        spec.policy.moderationFlag = max(spec.policy.moderationFlag, decision.moderationFlag)
        var intent = SharingIntent(id: try envelope.id.map { try IntentID(parsing: $0, field: "id") } ?? IntentID(),
                                   ownerDid: parsed.ownerDid, actorDid: parsed.actorDid, spec: spec,
                                   createdAt: try signedCreationTime(envelope, now: now))
        if let signature = envelope.signature {
            guard intent.actorDid.verifies(base64URLSignature: signature, over: intent.signingPayload()) else {
                throw VivimError.validation("signature does not verify over the intent with the actor's key", field: "signature")
            }
            intent.signature = signature
        }
        intent = try intent.moved(to: .pending, at: now).moved(to: .validated, at: now)
        let recipients = spec.audience.userDIDs.map {
            AudienceMember(intentID: intent.id, did: $0, kind: .user, response: .pending, updatedAt: now)
        }
        let event = AnalyticsEvent(type: .shareCreated, actorDid: caller, subject: intent.id.rawValue,
                                   properties: ["audience": spec.audience.type.rawValue, "contentType": spec.content.type.rawValue,
                                                "contents": "\(spec.content.ids.count)"], at: now)
        do {
            try await master.insertIntent(intent, recipients: recipients, events: [event])
        } catch let error as VivimError where error.code == .conflict {
            throw VivimError(.conflict, "an intent with this id exists", field: "id")
        }
        await audit.record(.shareCreate, actor: caller, subject: intent.id.rawValue,
                           details: ["audience": spec.audience.type.rawValue], client: client)
        return (intent, report)
    }

    /// A client-chosen creation time must be close to the server's clock (it is signed).
    private func signedCreationTime(_ envelope: IntentSignatureEnvelope, now: Date) throws -> Date {
        guard let text = envelope.createdAt else {
            if envelope.signature != nil { throw VivimError.validation("a signed intent needs its createdAt", field: "createdAt") }
            return now
        }
        guard let date = try? RFC3339.parse(text, field: "createdAt"), abs(date.timeIntervalSince(now)) <= 300 else {
            throw VivimError.validation("createdAt must be an RFC 3339 time within 5 minutes of the server's clock", field: "createdAt")
        }
        return date
    }

    /// Validation and policy for a draft; refusals throw with their full report.
    private func check(_ draft: SharingIntentDraft, actor: DID, now: Date, client: String?)
        async throws -> (ParsedIntentDraft, ValidationReport, PolicyDecision) {
        let facts = try await validationFacts(draft, actor: actor, now: now)
        let report = IntentValidator.validate(draft, actor: actor, facts: facts)
        guard report.valid, let parsed = report.parsed else {
            let first = report.errors.first
            throw ReportedError(error: VivimError(.validationError, first?.message ?? "invalid intent", field: first?.field), report: report)
        }
        let context = try await policyContext(parsed, circles: facts.circles)
        let decision = PolicyEngine.evaluate(parsed, context: context)
        do {
            try decision.enforce()
        } catch {
            await audit.record(.policyViolation, actor: actor, subject: parsed.spec.content.ids.first?.rawValue, success: false,
                               details: error.details ?? [:], client: client)
            throw ReportedError(error: error, report: decision)
        }
        return (parsed, report, decision)
    }

    /// PATCH: sections present in the body replace the intent's; the result is validated anew.
    /// An ACTIVE intent's permissions and audience change at once for access (the resolver reads
    /// them per request); its bundle keeps the recipients it was sealed for.
    func update(_ id: IntentID, patch: SharingIntentDraft, caller: DID, client: String?) async throws -> (SharingIntent, ValidationReport) {
        let current = try await visibleIntent(id, caller: caller)
        guard current.mayUpdate(caller) else { throw VivimError.forbidden("only the owner, the actor or a co-owner may change this intent") }
        guard [.draft, .pending, .validated, .active].contains(current.status) else {
            throw VivimError(.conflict, "a \(current.status.rawValue) intent cannot be changed", field: "status")
        }
        var draft = SharingIntentDraft(current.spec, ownerDid: current.ownerDid == current.actorDid ? nil : current.ownerDid)
        if let value = patch.intentType { draft.intentType = value }
        if let value = patch.content { draft.content = value }
        if let value = patch.audience { draft.audience = value }
        if let value = patch.permissions { draft.permissions = value }
        if let value = patch.schedule { draft.schedule = value }
        if let value = patch.expiration { draft.expiration = value }
        if let value = patch.transformations { draft.transformations = value }
        if let value = patch.metadata { draft.metadata = value }
        if let value = patch.policy { draft.policy = value }
        if let value = patch.coOwners { draft.coOwners = value }
        if let value = patch.vetoPower { draft.vetoPower = value }
        if current.status == .active, draft.content != SharingIntentDraft(current.spec).content {
            throw VivimError(.conflict, "the content of a published intent cannot change; revoke it and share again", field: "content")
        }
        let now = clock.now
        let (parsed, report, decision) = try await check(draft, actor: current.actorDid, now: now, client: client)
        var spec = parsed.spec
        spec.policy.moderationFlag = max(spec.policy.moderationFlag, decision.moderationFlag)
        let updated = current.updating(spec, at: now)
        guard try await master.updateIntent(updated, expectedVersion: current.version, events: []) else {
            throw VivimError.conflict("the intent changed meanwhile; read it again and retry")
        }
        // A published intent whose audience changed is sealed again: new recipients get capsules,
        // removed ones are not in the new bundle (they already lost access through the resolver).
        if current.status == .active, updated.spec.audience != current.spec.audience {
            _ = try await pipeline.reseal(id)
        }
        return (updated, report)
    }

    // MARK: Reading

    /// The intent if `caller` may see it: its owner, actor or co-owners, and its audience.
    /// Everyone else gets NOT_FOUND, so existence stays private.
    func visibleIntent(_ id: IntentID, caller: DID) async throws -> SharingIntent {
        guard let intent = try await master.intent(id) else { throw VivimError.notFound("intent not found") }
        if intent.mayUpdate(caller) || intent.mayRevoke(caller) { return intent }
        if intent.status == .active || intent.status == .expired || intent.status == .revoked,
           try await isRecipient(caller, of: intent) {
            return intent
        }
        throw VivimError.notFound("intent not found")
    }

    func isRecipient(_ did: DID, of intent: SharingIntent) async throws -> Bool {
        switch intent.spec.audience {
        case .public, .link: return false
        case .users(let dids): return dids.contains(did)
        case .circles(let ids):
            for circle in ids where try await master.member(did, of: circle) != nil { return true }
            return false
        }
    }

    func list(_ query: IntentQuery) async throws -> Page<SharingIntent> {
        try await master.intents(query)
    }

    struct ReceivedShare: Encodable {
        var intent: SharingIntent
        var response: String
        var contentId: String?
    }

    func received(by did: DID, page: PageRequest) async throws -> Page<ReceivedShare> {
        let circles = try await circleIDs(of: did)
        let intents = try await master.receivedIntents(did: did, circleIDs: circles, page: page)
        let responses = try await master.responses(of: did, to: intents.items.map(\.id))
        var items: [ReceivedShare] = []
        for intent in intents.items {
            let record = try await master.contentRecord(intentID: intent.id)
            items.append(ReceivedShare(intent: intent, response: (responses[intent.id] ?? .pending).rawValue, contentId: record?.contentId))
        }
        return Page(items: items, totalItems: intents.totalItems, request: page)
    }

    func circleIDs(of did: DID) async throws -> [CircleID] {
        var ids: [CircleID] = []
        var page = 1
        while true {
            let result = try await master.circles(of: did, relation: .all, page: PageRequest(page: page, pageSize: PageRequest.maximumPageSize))
            ids += result.items.map(\.circle.id)
            guard result.hasMore, page < 100 else { return ids }
            page += 1
        }
    }

    // MARK: Lifecycle

    func publish(_ id: IntentID, caller: DID, client: String?) async throws -> PublishResult {
        let intent = try await visibleIntent(id, caller: caller)
        guard intent.mayUpdate(caller) else { throw VivimError.forbidden("only the owner, the actor or a co-owner may publish") }
        if intent.status == .validated, let publishAt = intent.spec.schedule?.publishAt, publishAt > clock.now {
            throw VivimError(.conflict, "this intent is scheduled to publish at \(RFC3339.format(publishAt)); the scheduler will publish it",
                             field: "schedule.publishAt")
        }
        let result = try await pipeline.publish(id)
        if !result.alreadyPublished {
            await audit.record(.shareCreate, actor: caller, subject: id.rawValue, details: ["stage": "published", "contentId": result.contentId],
                               client: client)
        }
        return result
    }

    func revoke(_ id: IntentID, caller: DID, reason: String?, notify: Bool, client: String?) async throws -> SharingIntent {
        let intent = try await visibleIntent(id, caller: caller)
        guard intent.mayRevoke(caller) else { throw VivimError.forbidden("only the owner, the actor or a co-owner with veto power may revoke") }
        let now = clock.now
        let revoked = try intent.moved(to: .revoked, at: now, reason: reason)
        let event = AnalyticsEvent(type: .shareRevoked, actorDid: caller, subject: id.rawValue,
                                   properties: ["notifyRecipients": "\(notify)", "reason": reason ?? ""], at: now)
        guard try await master.updateIntent(revoked, expectedVersion: intent.version, events: [event]) else {
            throw VivimError.conflict("the intent changed meanwhile; read it again and retry")
        }
        await takeDown(revoked, status: .revoked)
        await audit.record(.shareRevoke, actor: caller, subject: id.rawValue, details: ["reason": reason ?? ""], client: client)
        return revoked
    }

    func cancel(_ id: IntentID, caller: DID) async throws -> SharingIntent {
        let intent = try await visibleIntent(id, caller: caller)
        guard intent.mayUpdate(caller) else { throw VivimError.forbidden("only the owner, the actor or a co-owner may cancel") }
        let cancelled = try intent.moved(to: .cancelled, at: clock.now)
        guard try await master.updateIntent(cancelled, expectedVersion: intent.version, events: []) else {
            throw VivimError.conflict("the intent changed meanwhile; read it again and retry")
        }
        try await master.deletePublishJob(id)
        return cancelled
    }

    /// Links die, the record stops being served, and the bundle is withdrawn (best effort, logged).
    func takeDown(_ intent: SharingIntent, status: ContentRecordStatus) async {
        do {
            try await master.deactivateLinks(of: intent.id)
            guard let record = try await master.contentRecord(intentID: intent.id) else { return }
            try await master.updateContentRecord(contentId: record.contentId, status: status, providers: nil, replicaCount: nil, at: clock.now)
            try await distributor.withdraw(contentId: record.contentId)
            try bundles.delete(record.contentId)
        } catch {
            logger.error("take-down incomplete", metadata: ["intent": "\(intent.id)", "error": "\(error)"])
        }
    }

    func respond(_ id: IntentID, caller: DID, accept: Bool) async throws -> RecipientResponse {
        guard let intent = try await master.intent(id), intent.status == .active, try await isRecipient(caller, of: intent) else {
            throw VivimError.notFound("intent not found")
        }
        let response: RecipientResponse = accept ? .accepted : .declined
        let kind: AudienceMember.Kind = intent.spec.audience.userDIDs.contains(caller) ? .user : .circleMember
        let now = clock.now
        try await master.setResponse(AudienceMember(intentID: id, did: caller, kind: kind, response: response, updatedAt: now))
        try await master.appendEvents([AnalyticsEvent(type: accept ? .shareAccepted : .shareDeclined, actorDid: caller, subject: id.rawValue, at: now)])
        return response
    }

    // MARK: Scheduler

    /// Applies due transitions: expiries in batches (one transaction each in the store),
    /// publications one by one through the pipeline.
    func apply(_ transitions: [ScheduledTransition], intents known: [IntentID: SharingIntent] = [:]) async throws {
        var expiries: [IntentExpiry] = []
        var repeats: [SharingIntent] = []
        let now = clock.now
        for transition in transitions {
            guard transition.key.target == .expired else {
                try await apply(transition)
                continue
            }
            // The sweep's own reading of the intent will do: the store's compare-and-set on the
            // version refuses the move if it changed since.
            var found = known[transition.key.intentID]
            if found == nil { found = try await master.intent(transition.key.intentID) }
            guard let intent = found else { continue }
            let event = AnalyticsEvent(type: .shareExpired, actorDid: nil, subject: intent.id.rawValue,
                                       properties: ["cause": transition.cause.rawValue], at: now, dedupKey: transition.key.description)
            switch IntentScheduler.apply(transition, to: intent, at: now) {
            case .applied(let expired):
                expiries.append(IntentExpiry(intent: expired, expectedVersion: intent.version, events: [event]))
            case .alreadyApplied:
                try await master.appendEvents([event])
                repeats.append(intent)
            case .superseded:
                continue
            }
        }
        for batch in stride(from: 0, to: expiries.count, by: 500).map({ Array(expiries[$0..<min($0 + 500, expiries.count)]) }) {
            for expired in try await master.expireIntents(batch) {
                guard let contentId = expired.contentId else { continue }
                do {
                    try await distributor.withdraw(contentId: contentId)
                    try bundles.delete(contentId)
                } catch {
                    logger.error("withdrawal incomplete", metadata: ["content": "\(contentId)", "error": "\(error)"])
                }
            }
        }
        for intent in repeats { await takeDown(intent, status: .expired) }
    }

    /// Applies one due transition (the scheduler's shell); idempotent under crashes and races.
    func apply(_ transition: ScheduledTransition) async throws {
        guard let intent = try await master.intent(transition.key.intentID) else { return }
        switch transition.key.target {
        case .active:
            guard intent.status == .validated, intent.version == transition.key.version else { return }
            do {
                _ = try await pipeline.publish(intent.id)
            } catch {
                logger.warning("scheduled publish failed", metadata: ["intent": "\(intent.id)", "error": "\(error)"])
            }
        case .expired:
            let now = clock.now
            switch IntentScheduler.apply(transition, to: intent, at: now) {
            case .applied(let expired):
                let event = AnalyticsEvent(type: .shareExpired, actorDid: nil, subject: intent.id.rawValue,
                                           properties: ["cause": transition.cause.rawValue], at: now, dedupKey: transition.key.description)
                if try await master.updateIntent(expired, expectedVersion: intent.version, events: [event]) {
                    await takeDown(expired, status: .expired)
                }
            case .alreadyApplied:
                try await master.appendEvents([AnalyticsEvent(type: .shareExpired, actorDid: nil, subject: intent.id.rawValue,
                                                              properties: ["cause": transition.cause.rawValue], at: now,
                                                              dedupKey: transition.key.description)])
                await takeDown(intent, status: .expired)
            case .superseded:
                return
            }
        default:
            return
        }
    }

    // MARK: Suggestions

    struct SuggestionItem: Encodable {
        var value: [String: String]
        var confidence: Double
        var reasoning: String
    }

    struct Suggestions: Encodable {
        var contentId: String
        var basedOnShares: Int
        var audience: [SuggestionItem]
        var permissions: [SuggestionItem]
        var schedule: [SuggestionItem]
    }

    /// Smart suggestions from the caller's own history of intents (SPEC §5.5): the audiences and
    /// permission sets they use most, and the lifetime they usually give shares.
    func suggestions(for contentID: ContentID, caller: DID) async throws -> Suggestions {
        let database = try userDatabases.database(for: caller)
        guard try await database.ownedConversations([contentID.rawValue]).contains(contentID.rawValue) else {
            throw VivimError.notFound("content not found")
        }
        var history: [SharingIntent] = []
        for page in 1...5 {
            let result = try await master.intents(IntentQuery(did: caller, page: PageRequest(page: page, pageSize: 100)))
            history += result.items.filter { $0.ownerDid == caller && $0.status != .cancelled && $0.status != .draft }
            if !result.hasMore { break }
        }
        let total = history.count
        func confidence(_ count: Int) -> Double { total == 0 ? 0 : (Double(count) / Double(total) * 100).rounded() / 100 }

        var audiences: [String: (Int, [String: String], String)] = [:]
        for intent in history {
            let (key, value, label): (String, [String: String], String) = switch intent.spec.audience {
            case .public: ("PUBLIC", ["type": "PUBLIC"], "everyone")
            case .link: ("LINK", ["type": "LINK"], "a link")
            case .circles(let ids):
                ("CIRCLE:" + ids.map(\.rawValue).sorted().joined(separator: ","), ["type": "CIRCLE", "circleIds": ids.map(\.rawValue).joined(separator: ",")],
                 ids.count == 1 ? "this circle" : "these \(ids.count) circles")
            case .users(let dids):
                ("USERS:" + dids.map(\.description).sorted().joined(separator: ","), ["type": "USERS", "userDids": dids.map(\.description).joined(separator: ",")],
                 dids.count == 1 ? "this person" : "these \(dids.count) people")
            }
            let previous = audiences[key] ?? (0, value, label)
            audiences[key] = (previous.0 + 1, value, label)
        }
        let audience = audiences.values.sorted { ($0.0, $0.2) > ($1.0, $1.2) }.prefix(3).map {
            SuggestionItem(value: $0.1, confidence: confidence($0.0),
                           reasoning: "you shared with \($0.2) in \($0.0) of your last \(total) shares")
        }

        var permissionSets: [Permissions: Int] = [:]
        for intent in history { permissionSets[intent.spec.permissions, default: 0] += 1 }
        var permissions = permissionSets.sorted { $0.value > $1.value }.prefix(2).map { set, count in
            SuggestionItem(value: Permission.allCases.reduce(into: [:]) { $0[$1.rawValue.lowercased()] = "\(set[$1])" }, confidence: confidence(count),
                           reasoning: "\(count) of your last \(total) shares granted exactly these permissions")
        }
        if permissions.isEmpty {
            permissions = [SuggestionItem(value: ["view": "true"], confidence: 0.5, reasoning: "no shares yet: view only is the safe start")]
        }

        let lifetimes = history.compactMap { intent -> TimeInterval? in
            guard let end = intent.spec.schedule?.expiresAt else { return nil }
            return end.timeIntervalSince(intent.spec.schedule?.publishAt ?? intent.createdAt)
        }.sorted()
        var schedule: [SuggestionItem] = []
        if !lifetimes.isEmpty {
            let median = lifetimes[lifetimes.count / 2]
            let days = max(1, Int((median / 86_400).rounded()))
            schedule.append(SuggestionItem(value: ["expiresAt": RFC3339.format(clock.now.addingTimeInterval(Double(days) * 86_400))],
                                           confidence: confidence(lifetimes.count),
                                           reasoning: "your shares with an end usually last about \(days) day\(days == 1 ? "" : "s")"))
        } else {
            schedule.append(SuggestionItem(value: [:], confidence: total == 0 ? 0.3 : 0.6,
                                           reasoning: total == 0 ? "no shares yet; open shares are safer with an end date"
                                                                 : "you usually share without an end date"))
        }
        return Suggestions(contentId: contentID.rawValue, basedOnShares: total, audience: Array(audience), permissions: permissions, schedule: schedule)
    }

    // MARK: Facts

    /// Everything `IntentValidator` needs, looked up from the draft's raw ids (unparseable ids are
    /// skipped here; the validator reports them).
    func validationFacts(_ draft: SharingIntentDraft, actor: DID, now: Date) async throws -> ValidationFacts {
        var facts = ValidationFacts(now: now)
        let owner = draft.ownerDid.flatMap { try? DID(parsing: $0) } ?? actor
        let ids = (draft.content?.ids ?? []).prefix(InputLimits.maxArrayCount).map { $0 }
        if owner == actor {
            if userDatabases.exists(for: actor) {
                let database = try userDatabases.database(for: actor)
                let contentType = draft.content?.type.flatMap { try? ContentType(parsing: $0, field: "content.type") } ?? .conversation
                let owned = contentType == .acu ? try await database.ownedACUs(ids) : try await database.ownedConversations(ids)
                facts.ownedContent = Set(owned.map(ContentID.init(trusted:)))
                let acuIDs = ((draft.content?.includeACUs ?? []) + (draft.content?.excludeACUs ?? [])).prefix(200).map { $0 }
                facts.ownedACUs = Set(try await database.ownedACUs(acuIDs).map(ACUID.init(trusted:)))
            }
        } else {
            let resolver = PermissionService(master: master, clock: clock)
            for id in ids {
                guard let contentID = try? ContentID(parsing: id) else { continue }
                facts.actorPermissions[contentID] = try await resolver.effective(contentID: contentID, owner: owner, asker: actor).permissions
            }
        }
        var circleIDs = (draft.audience?.circleIds ?? []).prefix(InputLimits.maxArrayCount).compactMap { try? CircleID(parsing: $0) }
        let conditionCircle = draft.expiration?.condition?.circleId.flatMap { try? CircleID(parsing: $0) }
        if let conditionCircle { circleIDs.append(conditionCircle) }
        for id in Set(circleIDs) {
            guard let circle = try await master.circle(id) else { continue }
            let membership = try await master.member(actor, of: id)
            guard !circle.isPrivate || membership != nil else { continue }
            var members: Set<DID> = []
            if id == conditionCircle {
                var page = 1
                while true {
                    let result = try await master.members(of: id, page: PageRequest(page: page, pageSize: PageRequest.maximumPageSize))
                    members.formUnion(result.items.map(\.did))
                    guard result.hasMore, page < 100 else { break }
                    page += 1
                }
            }
            facts.circles[id] = CircleFacts(circle: circle, actorMembership: membership, memberDids: members)
        }
        let dids = ((draft.audience?.userDids ?? []) + (draft.coOwners ?? [])).prefix(2 * InputLimits.maxArrayCount)
            .compactMap { try? DID(parsing: $0) }
        for did in Set(dids) where try await master.user(did) != nil { facts.registeredDids.insert(did) }
        return facts
    }

    func policyContext(_ parsed: ParsedIntentDraft, circles: [CircleID: CircleFacts]) async throws -> PolicyContext {
        var user = UserSharingPolicy()
        if parsed.ownerDid == parsed.actorDid, userDatabases.exists(for: parsed.ownerDid), parsed.spec.content.type == .conversation {
            let locked = try await userDatabases.database(for: parsed.ownerDid).lockedConversations(parsed.spec.content.ids.map(\.rawValue))
            user.lockedContent = Set(locked.map(ContentID.init(trusted:)))
        }
        return PolicyContext(user: user, circles: circles)
    }
}
