import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import VivimClient
import VivimCore
import VivimCrypto
import VivimPipeline
import VivimServer
import VivimStore

/// A server with a data directory of its own, for the sharing benchmarks.
struct BenchServer {
    let server: RunningServer
    let directory: String
    let http: HTTPClient
    var master: any MasterStore { server.app.services.master }

    static func start(masterDB: String?, concurrency: Int, configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> BenchServer {
        raiseOpenFileLimit()
        let directory = NSTemporaryDirectory() + "vivim-bench-\(UUID().uuidString)"
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.dataDirectory = directory
        configuration.masterDatabaseURL = masterDB
        configuration.logLevel = .error
        configuration.runsScheduler = false
        configuration.rateLimits = Dictionary(uniqueKeysWithValues: RateLimitedAction.allCases.map { ($0, RateLimit.perMinute(100_000_000)) })
        configure(&configuration)
        let server = try await RunningServer.start(try await VivimServerApp.make(configuration: configuration))
        let http = HTTPClient(eventLoopGroupProvider: .singleton,
                              configuration: .init(connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
        return BenchServer(server: server, directory: directory, http: http)
    }

    func stop() async throws {
        await server.stop()
        try await http.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Registers users directly in the master store (setup, not what is measured).
    func users(_ count: Int) async throws -> [(SigningIdentity, EncryptionKeyPair)] {
        var users: [(SigningIdentity, EncryptionKeyPair)] = []
        let now = Date()
        for index in 0..<count {
            let identity = SigningIdentity(), keys = try EncryptionKeyPair.generate()
            try await master.createUser(User(did: identity.did, displayName: "u\(index)", encryptionKey: keys.publicKey, createdAt: now, updatedAt: now),
                                        device: Device(did: identity.did, deviceID: try DeviceID(parsing: "d\(index)"), name: nil, createdAt: now, lastActiveAt: now))
            users.append((identity, keys))
        }
        return users
    }

    /// A logged-in client with a publishing delegation and an imported 50-message conversation.
    func owner() async throws -> (client: VivimAPIClient, identity: SigningIdentity, conversation: String) {
        let anonymous = VivimAPIClient(baseURL: server.baseURL, http: http)
        let identity = SigningIdentity(), device = try DeviceID(parsing: "bench-owner")
        try await anonymous.register(identity: identity, encryptionKey: try EncryptionKeyPair.generate().publicKey, deviceID: device)
        let (client, _, _) = try await anonymous.login(identity: identity, deviceID: device)
        try await client.delegatePublishing(identity: identity)
        let imported = try await client.send(.POST, "/api/v1/conversations", body: sampleConversationJSON(messages: 50))
        return (client, identity, imported.data["id"]?.string ?? "")
    }
}

extension BenchFigure {
    static func throughput(_ name: String, _ result: (rate: Double, samples: LatencySamples), unit: String, baseline: Double? = nil) -> BenchFigure {
        BenchFigure(name: name, value: result.rate, unit: unit, p50: result.samples.percentileMilliseconds(0.5),
                    p99: result.samples.percentileMilliseconds(0.99), baseline: baseline, ratio: baseline.map { result.rate / $0 })
    }
}

/// `vivim bench resolver`: permission checks per second on `GET /permissions/:id/check` with
/// 10,000 ACTIVE intents and circles of 1,000 members, next to trivial routes on the same server
/// in the same run; and the in-process resolver.
struct ResolverBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resolver")
    @OptionGroup var options: BenchOptions
    @Option(name: .customLong("master-db"), help: "PostgreSQL URL; absent = embedded master store (VIVIM_MASTER_DB).") var masterDB: String?
    @Option var concurrency = 16
    @Option(help: "Seconds per measurement.") var seconds: Double?

    func run() async throws {
        let intents = options.quick ? 1_000 : 10_000, circleSize = options.quick ? 100 : 1_000, circleCount = 10, contents = intents / 5
        let duration = Duration.milliseconds(Int((seconds ?? (options.quick ? 1 : 5)) * 1000))
        let masterDB = masterDB ?? environment("MASTER_DB")
        let bench = try await BenchServer.start(masterDB: masterDB, concurrency: concurrency)
        let (ownerClient, owner, _) = try await bench.owner()
        _ = ownerClient

        // Circles of `circleSize` members, the askers among them.
        let members = try await bench.users(circleSize)
        let now = Date()
        var circles: [CircleID] = []
        for index in 0..<circleCount {
            let circle = Circle(id: CircleID(), name: "c\(index)", description: nil, icon: nil, ownerDid: owner.did, isPrivate: true,
                                defaultPermissions: .viewOnly, createdAt: now, updatedAt: now)
            try await bench.master.createCircle(circle, owner: CircleMember(circleID: circle.id, did: owner.did, role: .owner, canInvite: true, canShare: true, joinedAt: now))
            for (identity, _) in members {
                try await bench.master.addMember(CircleMember(circleID: circle.id, did: identity.did, role: .member, canInvite: false, canShare: false, joinedAt: now))
            }
            circles.append(circle.id)
        }
        // 10,000 ACTIVE intents over 2,000 content ids (5 each): circle, user and public audiences.
        let contentIDs = (0..<contents).map { _ in ContentID() }
        var batch: [SharingIntent] = []
        for index in 0..<intents {
            let audience: Audience = switch index % 5 {
            case 0, 1: .circles([circles[index % circleCount]])
            case 2, 3: .users([members[index % members.count].0.did])
            default: .public
            }
            var permissions = Permissions.viewOnly
            permissions.copy = index % 2 == 0
            let spec = IntentSpec(content: IntentContent(type: .conversation, ids: [contentIDs[index % contents]]), audience: audience, permissions: permissions)
            var intent = SharingIntent(ownerDid: owner.did, spec: spec, createdAt: now)
            intent = try intent.moved(to: .pending, at: now).moved(to: .validated, at: now).moved(to: .active, at: now)
            batch.append(intent)
            if batch.count == 1_000 {
                try await bench.master.insertIntents(batch)
                batch.removeAll()
            }
        }
        try await bench.master.insertIntents(batch)

        // Askers: circle members with sessions.
        let anonymous = VivimAPIClient(baseURL: bench.server.baseURL, http: bench.http)
        var askers: [VivimAPIClient] = []
        for (identity, _) in members.prefix(concurrency) {
            askers.append(try await anonymous.login(identity: identity).client)
        }
        let sessions = askers
        let health = try await measureThroughput(concurrency: concurrency, duration: duration) { _ in try await anonymous.send(.GET, "/health") }
        let me = try await measureThroughput(concurrency: concurrency, duration: duration) { worker in
            try await sessions[worker].send(.GET, "/api/v1/users/me")
        }
        let checks = try await measureThroughput(concurrency: concurrency, duration: duration) { worker in
            let content = contentIDs[Int.random(in: 0..<contents)]
            try await sessions[worker].send(.GET, "/api/v1/permissions/\(content)/check?permission=copy")
        }

        // The pure resolver over one content's intents, and the service with its lookups.
        let sample = try await bench.master.activeIntents(covering: contentIDs[0])
        let facts = ResolutionFacts(did: members[0].0.did, circleMemberships: Set(circles), now: Date())
        let pureCount = options.quick ? 20_000 : 200_000
        let pureStart = ContinuousClock.now
        var allowed = 0
        for _ in 0..<pureCount where PermissionResolver.check(.copy, contentID: contentIDs[0], contentOwner: owner.did, intents: sample, facts: facts).allowed {
            allowed += 1
        }
        let pureRate = Double(pureCount) / (ContinuousClock.now - pureStart).seconds
        let inProcess = try await measureThroughput(concurrency: concurrency, duration: duration) { _ in
            _ = try await bench.server.app.checkPermission(.copy, contentID: contentIDs[Int.random(in: 0..<contents)], asker: members[0].0.did)
        }
        try await bench.stop()
        let store = masterDB == nil ? "sqlite" : "postgresql"
        BenchReport(suite: "resolver", machine: BenchReport.machine + ", master \(store), concurrency \(concurrency), \(intents) intents over \(contents) contents, \(circleCount) circles × \(circleSize) members", results: [
            .throughput("GET /health (trivial route)", health, unit: "req/s"),
            .throughput("GET /api/v1/users/me (trivial authenticated route)", me, unit: "req/s"),
            .throughput("GET /api/v1/permissions/:id/check vs /health", checks, unit: "checks/s", baseline: health.rate),
            .throughput("GET /api/v1/permissions/:id/check vs /users/me", checks, unit: "checks/s", baseline: me.rate),
            .throughput("in-process check (store lookups + resolver)", inProcess, unit: "checks/s"),
            BenchFigure(name: "PermissionResolver.check alone (\(sample.count) intents, \(allowed > 0 ? "allowed" : "denied"))", value: pureRate, unit: "checks/s"),
        ]).print(json: options.json)
    }
}

/// `vivim bench scheduler`: the time to expire 100,000 due intents.
struct SchedulerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scheduler")
    @OptionGroup var options: BenchOptions
    @Option(name: .customLong("master-db"), help: "PostgreSQL URL; absent = embedded master store (VIVIM_MASTER_DB).") var masterDB: String?
    @Option var intents: Int?

    func run() async throws {
        let count = intents ?? (options.quick ? 5_000 : 100_000)
        let masterDB = masterDB ?? environment("MASTER_DB")
        let bench = try await BenchServer.start(masterDB: masterDB, concurrency: 1)
        let (_, owner, _) = try await bench.owner()
        let recipient = try await bench.users(1)[0].0.did
        let start = Date().addingTimeInterval(-7_200)
        var batch: [SharingIntent] = []
        for index in 0..<count {
            let spec = IntentSpec(content: IntentContent(type: .conversation, ids: [ContentID()]), audience: .users([recipient]),
                                  schedule: Schedule(expiresAt: start.addingTimeInterval(Double(index % 3_600))), expiration: .time)
            var intent = SharingIntent(ownerDid: owner.did, spec: spec, createdAt: start)
            intent = try intent.moved(to: .pending, at: start).moved(to: .validated, at: start).moved(to: .active, at: start)
            batch.append(intent)
            if batch.count == 5_000 {
                try await bench.master.insertIntents(batch)
                batch.removeAll()
            }
        }
        try await bench.master.insertIntents(batch)
        let clock = ContinuousClock.now
        var expired = 0
        for _ in 0..<10_000 {
            let moved = try await bench.server.app.runSchedulerOnce()
            expired += moved
            if moved == 0 { break }
        }
        let elapsed = (ContinuousClock.now - clock).seconds
        let remaining = try await bench.master.intents(IntentQuery(did: owner.did, status: .active, page: PageRequest(page: 1, pageSize: 1))).totalItems
        try await bench.stop()
        let store = masterDB == nil ? "sqlite" : "postgresql"
        BenchReport(suite: "scheduler", machine: BenchReport.machine + ", master \(store)", results: [
            BenchFigure(name: "expire \(count) due intents (all sweeps)", value: elapsed, unit: "s"),
            BenchFigure(name: "expiries per second", value: Double(expired) / elapsed, unit: "intents/s"),
            BenchFigure(name: "intents left ACTIVE (must be 0)", value: Double(remaining), unit: "intents"),
        ]).print(json: options.json)
    }
}

/// `vivim bench pipeline`: publish throughput and time to publish to 1–1,000 recipients with
/// and without circle epoch keys, and PII redaction MB/s.
struct PipelineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pipeline")
    @OptionGroup var options: BenchOptions
    @Option(name: .customLong("master-db"), help: "PostgreSQL URL; absent = embedded master store (VIVIM_MASTER_DB).") var masterDB: String?

    func run() async throws {
        let masterDB = masterDB ?? environment("MASTER_DB")
        let bench = try await BenchServer.start(masterDB: masterDB, concurrency: 4)
        let (client, owner, conversation) = try await bench.owner()
        let maxRecipients = options.quick ? 100 : 1_000
        let people = try await bench.users(maxRecipients)
        var results: [BenchFigure] = []

        func intent(_ audience: Audience) async throws -> String {
            let builder = IntentBuilder(owner: owner.did).content(.conversation, ids: [ContentID(trusted: conversation)]).audience(audience)
            let body = try builder.signedBody(by: owner)
            return try await client.send(.POST, "/api/v1/sharing/intents", body: body).data["intent"]?["id"]?.string ?? ""
        }
        func publish(_ id: String) async throws -> Double {
            let start = ContinuousClock.now
            _ = try await bench.server.app.services.pipeline.publish(IntentID(trusted: id))
            return (ContinuousClock.now - start).seconds * 1000
        }

        // Throughput to one recipient (in-process pipeline, intents created beforehand).
        let shares = options.quick ? 50 : 300
        var ids: [String] = []
        for _ in 0..<shares { ids.append(try await intent(.users([people[0].0.did]))) }
        var samples = LatencySamples()
        let start = ContinuousClock.now
        for id in ids {
            let begin = ContinuousClock.now
            _ = try await bench.server.app.services.pipeline.publish(IntentID(trusted: id))
            samples.add(ContinuousClock.now - begin)
        }
        let rate = Double(shares) / (ContinuousClock.now - start).seconds
        results.append(BenchFigure(name: "publish 50-message conversation to 1 recipient", value: rate, unit: "shares/s",
                                   p50: samples.percentileMilliseconds(0.5), p99: samples.percentileMilliseconds(0.99)))

        for size in [1, 10, 100, 1_000] where size <= maxRecipients {
            if size <= InputLimits.maxArrayCount {
                let direct = try await publish(try await intent(.users(people.prefix(size).map(\.0.did))))
                results.append(BenchFigure(name: "publish to \(size) recipients, one capsule each (X-Wing)", value: direct, unit: "ms"))
            } else {
                // An intent lists at most 100 users (SPEC §10.6): time the sealing of one bundle to
                // `size` recipients without epoch keys, the stage that grows with them.
                let recipients = people.prefix(size).map { BundleRecipient(did: $0.0.did, encryptionKey: $0.1.publicKey) }
                let start = ContinuousClock.now
                _ = try BundleSealer(owner: owner).seal(Array(sampleConversationJSON(messages: 50)), intentId: UUID().uuidString,
                                                        recipients: recipients, description: BundleDescription(contentType: "CONVERSATION"))
                results.append(BenchFigure(name: "seal to \(size) recipients, one capsule each (X-Wing; no intent lists > 100 users)",
                                           value: (ContinuousClock.now - start).seconds * 1000, unit: "ms"))
            }
            // A circle of `size` members: the first share creates the epoch (one capsule per member);
            // later shares wrap the content key once.
            let now = Date()
            let circle = Circle(id: CircleID(), name: "bench \(size)", description: nil, icon: nil, ownerDid: owner.did, isPrivate: true,
                                defaultPermissions: .viewOnly, createdAt: now, updatedAt: now)
            try await bench.master.createCircle(circle, owner: CircleMember(circleID: circle.id, did: owner.did, role: .owner, canInvite: true, canShare: true, joinedAt: now))
            for (identity, _) in people.prefix(size) {
                try await bench.master.addMember(CircleMember(circleID: circle.id, did: identity.did, role: .member, canInvite: false, canShare: true, joinedAt: now))
            }
            let setup = try await publish(try await intent(.circles([circle.id])))
            var steady = LatencySamples()
            for _ in 0..<5 {
                let ms = try await publish(try await intent(.circles([circle.id])))
                steady.values.append(ms / 1000)
            }
            results.append(BenchFigure(name: "publish to a circle of \(size) members with epoch keys (steady state)", value: steady.percentileMilliseconds(0.5),
                                       unit: "ms", p50: steady.percentileMilliseconds(0.5), p99: steady.percentileMilliseconds(0.99)))
            results.append(BenchFigure(name: "first publish to that circle (creates the epoch: \(size + 1) member capsules)", value: setup, unit: "ms"))
        }
        try await bench.stop()

        let pii = PIIBenchmark.run(megabytes: options.quick ? 2 : 20)
        results.append(BenchFigure(name: "PII redaction (\(pii.redactions) redactions in \(pii.bytes >> 20) MiB)", value: pii.mbPerSecond, unit: "MB/s"))
        let store = masterDB == nil ? "sqlite" : "postgresql"
        BenchReport(suite: "pipeline", machine: BenchReport.machine + ", master \(store)", results: results).print(json: options.json)
    }
}
