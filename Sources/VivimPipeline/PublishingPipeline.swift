import Crypto
import Foundation
import Logging
import VivimCore
import VivimCrypto
import VivimStore

/// What `POST /sharing/intents/:id/publish` answers (SPEC §5.5).
public struct PublishResult: Sendable, Equatable, Encodable {
    public struct Distribution: Sendable, Equatable, Encodable {
        public var providers: [String]
        public var replicas: Int
    }
    public var success: Bool
    public var contentId: String
    public var distribution: Distribution
    public var publishedAt: Date
    /// LINK audiences only, and only in the answer that published: the base64url content key
    /// for the link's URL fragment. The server keeps no copy (zero-knowledge links, SPEC §6).
    public var linkKey: String?
    /// True when the intent was already published and this call changed nothing.
    public var alreadyPublished: Bool
}

/// Per-stage observations for metrics (SPEC §7.1: timings, sizes, errors and retries).
public protocol PipelineObserver: Sendable {
    func stageFinished(_ stage: PipelineStage, seconds: Double, bytes: Int?, failed: Bool)
    func retried(_ stage: PipelineStage)
}

public enum PipelineStage: String, Sendable, CaseIterable {
    case input, filter, transform, encrypt, gate, store, commit, distribute, userFile = "user_file"
}

/// Where a test may kill the process (`VIVIM_FAULT_INJECT=<point>`), to prove crash consistency.
public enum FaultPoint: String, Sendable, CaseIterable {
    case afterSeal = "after-seal", afterCommit = "after-commit", afterDistribute = "after-distribute", afterUserFile = "after-user-file"

    /// The point named by `VIVIM_FAULT_INJECT`, if any.
    public static var fromEnvironment: FaultPoint? {
        ProcessInfo.processInfo.environment["VIVIM_FAULT_INJECT"].flatMap(FaultPoint.init(rawValue:))
    }
}

/// Retries of transient failures: exponential backoff (SPEC §7.1: 3 retries, 1 s base, 30 s cap).
public struct RetryPolicy: Sendable {
    public var retries = 3
    public var base: Duration = .seconds(1)
    public var cap: Duration = .seconds(30)
    public init(retries: Int = 3, base: Duration = .seconds(1), cap: Duration = .seconds(30)) {
        self.retries = retries
        self.base = base
        self.cap = cap
    }

    public func delay(afterAttempt attempt: Int) -> Duration {
        let factor = 1 << min(max(attempt - 1, 0), 20)
        return min(base * factor, cap)
    }
}

/// The publishing pipeline (SPEC §7): input → filter → transform → encrypt → gates → output,
/// with an outbox in the master store so a crash at any point is finished or rolled back on
/// restart, and a per-intent single flight so concurrent publishes of one intent make one
/// bundle and one record.
///
/// Commit order, the crash-consistency argument:
/// 1. outbox row QUEUED (intent id + version);
/// 2. the sealed bundle is written durably to the content store, outbox → SEALED (+ content id);
/// 3. one master transaction: content record + intent ACTIVE (compare-and-set on the version);
/// 4. distribution and the owner's file are updated (idempotent), then the outbox row goes.
/// A restart finds the row: QUEUED or SEALED without a record → the bundle file is removed and
/// the publish runs again (LINK keys are never stored, so a new bundle is the only way);
/// a record exists → steps 4 are redone. No ACTIVE intent without a record, no record without
/// a stored bundle, never two records for one intent (unique live intent in the store).
public actor PublishingPipeline {
    let store: any MasterStore
    let userDatabases: UserDatabaseManager
    let bundles: BundleStore
    let distributor: any Distributor
    let keys: PublishingKeyService
    let circleKeys: CircleKeyService
    let clock: any WallClock
    let observer: (any PipelineObserver)?
    let fault: FaultPoint?
    let retry: RetryPolicy
    let logger: Logger
    private var inFlight: [IntentID: Task<PublishResult, any Error>] = [:]

    public init(store: any MasterStore, userDatabases: UserDatabaseManager, bundles: BundleStore, distributor: any Distributor,
                keys: PublishingKeyService, circleKeys: CircleKeyService, clock: any WallClock, observer: (any PipelineObserver)? = nil,
                fault: FaultPoint? = FaultPoint.fromEnvironment, retry: RetryPolicy = RetryPolicy(), logger: Logger = Logger(label: "vivim.pipeline")) {
        self.store = store
        self.userDatabases = userDatabases
        self.bundles = bundles
        self.distributor = distributor
        self.keys = keys
        self.circleKeys = circleKeys
        self.clock = clock
        self.observer = observer
        self.fault = fault
        self.retry = retry
        self.logger = logger
    }

    /// Publishes the intent now. Concurrent calls for one intent share one run.
    public func publish(_ intentID: IntentID) async throws -> PublishResult {
        if let running = inFlight[intentID] { return try await running.value }
        let task = Task { try await self.run(intentID, resuming: nil) }
        inFlight[intentID] = task
        defer { inFlight[intentID] = nil }
        return try await task.value
    }

    /// Finishes or rolls back every publish a crash interrupted. Call at start-up and periodically.
    public func recover(limit: Int = 100) async {
        let jobs: [PublishJob]
        do { jobs = try await store.pendingPublishJobs(dueBy: clock.now, limit: limit) } catch {
            logger.error("outbox read failed", metadata: ["error": "\(error)"])
            return
        }
        for job in jobs where inFlight[job.intentID] == nil {
            let task = Task { try await self.run(job.intentID, resuming: job) }
            inFlight[job.intentID] = task
            do { _ = try await task.value } catch {
                logger.warning("resumed publish failed", metadata: ["intent": "\(job.intentID)", "error": "\(error)"])
            }
            inFlight[job.intentID] = nil
        }
    }

    // MARK: The run

    private func run(_ intentID: IntentID, resuming: PublishJob?) async throws -> PublishResult {
        guard let intent = try await store.intent(intentID) else {
            try await store.deletePublishJob(intentID)
            throw VivimError.notFound("intent not found")
        }
        // Already published: finish any leftover steps, answer idempotently.
        if let record = try await store.contentRecord(intentID: intentID) {
            return try await finish(intent: intent, record: record, linkKey: nil, alreadyPublished: resuming == nil)
        }
        guard intent.status == .validated else {
            try await store.deletePublishJob(intentID)
            throw VivimError(.conflict, "only a VALIDATED intent can be published; this one is \(intent.status.rawValue)",
                             field: "status", details: ["status": intent.status.rawValue])
        }
        let now = clock.now
        var (job, _) = try await store.enqueuePublish(PublishJob(intentID: intentID, intentVersion: intent.version, nextAttemptAt: now,
                                                                  createdAt: now, updatedAt: now))
        // A bundle sealed before a crash is discarded: its key may be gone (LINK) and the
        // content may have changed. Sealing again is cheap and keeps one code path.
        if let stale = job.contentId {
            _ = try? bundles.delete(stale)
            job.contentId = nil
            job.stage = .queued
        }
        job.attempts += 1
        job.intentVersion = intent.version
        do {
            return try await seal(intent, job: job)
        } catch {
            job.stage = .failed
            job.lastError = "\(error)"
            job.updatedAt = clock.now
            if let contentId = job.contentId { _ = try? bundles.delete(contentId) }
            // Nothing was committed: the intent stays VALIDATED and may be published again.
            try? await store.deletePublishJob(intentID)
            throw error
        }
    }

    /// A bundle sealed, gated and stored durably in the content store, with its record.
    struct Sealed {
        var bundle: ContentBundle
        var record: ContentRecord
        var linkKey: String?
        var recipients: Int
        var circles: Int
    }

    /// Input → filter → transform → encrypt → output gate → content store, for `intent` as it is now.
    private func sealAndStore(_ intent: SharingIntent) async throws -> Sealed {
        let owner = intent.ownerDid
        let now = clock.now

        let raw = try await timed(.input) { try await self.loadInput(intent) }
        let prepared = try await timed(.transform) {
            try ContentPreparation.prepare(raw, spec: intent.spec, ownerDid: owner, now: now)
        }
        let plaintext = prepared.plaintext

        // Recipients: direct users by their public profile keys; circles by their epoch key.
        var recipients: [BundleRecipient] = []
        var circles: [CircleEpochKey] = []
        for did in intent.spec.audience.userDIDs {
            guard let user = try await store.user(did) else { continue }
            recipients.append(BundleRecipient(did: did, encryptionKey: user.encryptionKey))
        }
        for circle in intent.spec.audience.circleIDs {
            circles.append(try await circleKeys.currentKey(of: circle, now: now))
        }
        let signer = try await keys.signer(for: owner, now: now)
        let description = BundleDescription(contentType: intent.spec.content.type.rawValue, title: prepared.title,
                                            tags: intent.spec.metadata.tags, transformations: prepared.transformations)
        let sealed = try await timed(.encrypt, bytes: plaintext.count) {
            try BundleSealer(signer: signer).seal(plaintext, intentId: intent.id.rawValue, recipients: recipients, circles: circles,
                                                   description: description, createdAt: now)
        }
        let bundle = sealed.bundle

        // Output gate: the bundle verifies and opens to exactly the plaintext.
        try await timed(.gate) {
            try BundleOpener.verify(bundle)
            guard try BundleOpener.open(bundle, contentKey: sealed.contentKey) == plaintext else {
                throw VivimError(.internalError, "the sealed bundle does not open to its plaintext")
            }
        }
        let bytes = try bundle.jsonData()
        try await timed(.store, bytes: bytes.count) { try self.bundles.put(bundle.contentId, bytes: bytes) }
        let audience = intent.spec.audience.type
        let record = ContentRecord(
            contentId: bundle.contentId, intentID: intent.id, ownerDid: owner, contentType: intent.spec.content.type,
            sourceIDs: intent.spec.content.ids, audienceType: audience, size: plaintext.count,
            contentHash: bundle.metadata.contentHash, bundleSize: bytes.count, title: prepared.title, tags: intent.spec.metadata.tags,
            publicContentKey: audience == .public ? sealed.contentKey.base64URL : nil, providers: [], replicaCount: 0, status: .active,
            createdAt: now, updatedAt: now)
        return Sealed(bundle: bundle, record: record, linkKey: audience == .link ? sealed.contentKey.base64URL : nil,
                      recipients: recipients.count, circles: circles.count)
    }

    /// Seals an ACTIVE intent again after its audience changed (SPEC §5.5: new recipients get key
    /// capsules, removed ones lose access): the new bundle's record replaces the old one, which is
    /// withdrawn. A crash in between leaves the old record live and consistent.
    public func reseal(_ intentID: IntentID) async throws -> PublishResult {
        guard let intent = try await store.intent(intentID), intent.status == .active,
              let current = try await store.contentRecord(intentID: intentID)
        else { throw VivimError.conflict("only a published intent can be sealed again") }
        let sealed = try await sealAndStore(intent)
        guard try await store.replaceRecord(current.contentId, with: sealed.record) else {
            _ = try? bundles.delete(sealed.bundle.contentId)
            throw VivimError.conflict("the intent's content changed meanwhile; try again")
        }
        do {
            try await distributor.withdraw(contentId: current.contentId)
            try bundles.delete(current.contentId)
        } catch {
            logger.warning("withdrawal of the replaced bundle incomplete", metadata: ["content": "\(current.contentId)", "error": "\(error)"])
        }
        return try await finish(intent: intent, record: sealed.record, linkKey: sealed.linkKey, alreadyPublished: false)
    }

    private func seal(_ intent: SharingIntent, job initial: PublishJob) async throws -> PublishResult {
        var job = initial
        let now = clock.now
        let sealed = try await sealAndStore(intent)
        let bundle = sealed.bundle
        job.stage = .sealed
        job.contentId = bundle.contentId
        job.updatedAt = clock.now
        try await store.updatePublishJob(job)
        reach(.afterSeal)

        // Commit: record and ACTIVE intent together.
        let record = sealed.record, linkKey = sealed.linkKey
        let active = try intent.moved(to: .active, at: now)
        let event = AnalyticsEvent(type: .sharePublished, actorDid: intent.actorDid, subject: intent.id.rawValue,
                                   properties: ["contentId": bundle.contentId, "audience": record.audienceType.rawValue,
                                                "recipients": "\(sealed.recipients)", "circles": "\(sealed.circles)"],
                                   at: now, dedupKey: "publish|\(intent.id)")
        let committed = try await timed(.commit) {
            try await self.store.commitPublish(PublishCommit(record: record, intent: active, expectedVersion: intent.version, events: [event]))
        }
        guard committed else {
            // Someone else changed or published the intent meanwhile.
            _ = try? bundles.delete(bundle.contentId)
            if let winner = try await store.contentRecord(intentID: intent.id), let current = try await store.intent(intent.id) {
                return try await finish(intent: current, record: winner, linkKey: nil, alreadyPublished: true)
            }
            throw VivimError.conflict("the intent changed while it was being published; publish again")
        }
        reach(.afterCommit)
        return try await finish(intent: active, record: record, linkKey: linkKey, alreadyPublished: false)
    }

    /// The steps after the commit, all idempotent: distribution, the owner's file, the outbox row.
    private func finish(intent: SharingIntent, record: ContentRecord, linkKey: String?, alreadyPublished: Bool) async throws -> PublishResult {
        var record = record
        if record.replicaCount == 0, record.status == .active {
            guard let bytes = try bundles.get(record.contentId) else {
                try await store.updateContentRecord(contentId: record.contentId, status: .corrupted, providers: nil, replicaCount: nil, at: clock.now)
                throw VivimError(.internalError, "the published bundle is missing from the content store")
            }
            let topics = intent.spec.audience.userDIDs.map { "user:\($0)" } + intent.spec.audience.circleIDs.map { "circle:\($0)" }
            let plan = DistributionPlan(contentId: record.contentId, contentType: record.contentType, audience: record.audienceType, topics: topics)
            let receipt = try await distributeWithRetry(bytes, plan: plan)
            try await store.updateContentRecord(contentId: record.contentId, status: .active, providers: receipt.providers,
                                                replicaCount: receipt.replicas, at: clock.now)
            record.providers = receipt.providers
            record.replicaCount = receipt.replicas
            reach(.afterDistribute)
        }
        let database = try userDatabases.database(for: intent.ownerDid)
        try await timed(.userFile) {
            try await database.recordShare(intentID: intent.id.rawValue, contentIDs: intent.spec.content.ids.map(\.rawValue),
                                           publishedContentId: record.contentId, at: intent.publishedAt ?? self.clock.now)
        }
        reach(.afterUserFile)
        try await store.deletePublishJob(intent.id)
        return PublishResult(success: true, contentId: record.contentId,
                             distribution: .init(providers: record.providers, replicas: record.replicaCount),
                             publishedAt: intent.publishedAt ?? record.createdAt, linkKey: linkKey, alreadyPublished: alreadyPublished)
    }

    private func distributeWithRetry(_ bytes: Data, plan: DistributionPlan) async throws -> DistributionReceipt {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await timed(.distribute, bytes: bytes.count) { try await self.distributor.distribute(bytes, plan: plan) }
            } catch let error as TransientDistributionError where attempt <= retry.retries {
                observer?.retried(.distribute)
                logger.notice("distribution failed, retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: retry.delay(afterAttempt: attempt))
            }
        }
    }

    // MARK: Input

    private func loadInput(_ intent: SharingIntent) async throws -> [LoadedConversation] {
        let database = try userDatabases.database(for: intent.ownerDid)
        let ids = intent.spec.content.ids.map(\.rawValue)
        switch intent.spec.content.type {
        case .conversation:
            let locked = try await database.lockedConversations(ids)
            guard locked.isEmpty else {
                throw VivimError(.policyViolation, "content locked as LOCAL cannot be shared", details: ["reason": "CONTENT_LOCKED"])
            }
            var loaded: [LoadedConversation] = []
            for id in intent.spec.content.ids {
                let conversationID = ConversationID(trusted: id.rawValue)
                guard let (conversation, messages) = try await database.conversationWithMessages(conversationID) else {
                    throw VivimError(.notFound, "content \(id) is no longer in the owner's library", field: "content.ids")
                }
                let acus = intent.spec.content.scope == .partial ? try await database.allACUs(of: conversationID) : []
                loaded.append(LoadedConversation(conversation: conversation, messages: messages, acus: acus))
            }
            return loaded
        case .acu, .collection, .annotation, .notebook:
            throw VivimError(.validationError, "publishing \(intent.spec.content.type.rawValue) content is not supported yet; share the conversation",
                             field: "content.type")
        }
    }

    // MARK: Helpers

    private func reach(_ point: FaultPoint) {
        guard point == fault else { return }
        logger.critical("fault injection: killing the process", metadata: ["point": "\(point.rawValue)"])
        kill(getpid(), SIGKILL)
    }

    private func timed<T>(_ stage: PipelineStage, bytes: Int? = nil, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        do {
            let value = try await body()
            observer?.stageFinished(stage, seconds: (ContinuousClock.now - start).seconds, bytes: bytes, failed: false)
            return value
        } catch {
            observer?.stageFinished(stage, seconds: (ContinuousClock.now - start).seconds, bytes: bytes, failed: true)
            throw error
        }
    }
}

/// One conversation as the input stage loads it from the owner's file.
public struct LoadedConversation: Sendable {
    public var conversation: ConversationRecord
    public var messages: [MessageRecord]
    public var acus: [ACURecord]
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
