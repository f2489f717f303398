import Foundation
import NIOHTTP1
import Testing
import VivimClient
import VivimCore
import VivimCrypto
import VivimServer
import VivimStore
import VivimTestSupport

/// End-to-end sharing through the HTTP API on real sockets (SPEC §5, §6, §7): every audience
/// type and permission flag, the recipient decrypting with their own key, revocation, links,
/// races, the scheduler on a driven clock across a restart. Each scenario runs on both stores.
enum SharingAPI {
    static let conversation: JSONValue = .object([
        "provider": .string("claude"), "title": .string("Sharing test"), "model": .string("claude-opus"),
        "sourceUrl": .string("https://chat.example/c/42"),
        "messages": .array([
            .object(["role": .string("system"), "content": .string("You are terse.")]),
            .object(["role": .string("user"), "content": .string("Mail me at jane.doe@example.com or call +44 20 7946 0958.")]),
            .object(["role": .string("assistant"), "content": .array([
                .object(["type": .string("text"), "text": .string("Here is the plan.")]),
                .object(["type": .string("tool_call"), "name": .string("calendar"), "arguments": .string("{\"day\":\"mon\"}")]),
            ])]),
            .object(["role": .string("tool"), "content": .array([.object(["type": .string("tool_result"), "content": .string("booked")])])]),
            .object(["role": .string("assistant"), "content": .string("Booked for Monday.")]),
        ]),
    ])

    static func importConversation(_ user: Harness.TestUser) async throws -> String {
        try #require(try await user.client.send(.POST, "/api/v1/conversations", json: conversation).data["id"]?.string)
    }

    static func intent(_ contentID: String, audience: JSONValue, permissions: [String: Bool] = ["view": true],
                       extra: [String: JSONValue] = [:]) -> JSONValue {
        var body: [String: JSONValue] = [
            "content": .object(["type": .string("conversation"), "ids": .array([.string(contentID)])]),
            "audience": audience,
            "permissions": .object(permissions.mapValues(JSONValue.bool)),
        ]
        body.merge(extra) { $1 }
        return .object(body)
    }

    static func users(_ dids: DID...) -> JSONValue {
        .object(["type": .string("USERS"), "userDids": .array(dids.map { .string($0.description) })])
    }

    static func create(_ user: Harness.TestUser, _ body: JSONValue) async throws -> String {
        let created = try await user.client.send(.POST, "/api/v1/sharing/intents", json: body)
        #expect(created.status == 201)
        #expect(created.data["intent"]?["status"]?.string == "VALIDATED")
        #expect(created.data["validation"]?["valid"] == .bool(true))
        return try #require(created.data["intent"]?["id"]?.string)
    }

    static func publish(_ user: Harness.TestUser, _ intentID: String) async throws -> JSONValue {
        let published = try await user.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/publish")
        #expect(published.data["success"] == .bool(true))
        return published.data
    }

    static func plaintext(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    static func texts(_ content: JSONValue) -> String {
        String(data: (try? JSONEncoder().encode(content["messages"] ?? .null)) ?? Data(), encoding: .utf8) ?? ""
    }

    // MARK: Scenarios

    /// USERS: the recipient opens the bundle with their own key; transformations are visible;
    /// outsiders learn nothing; revocation stops serving and kills the bundle.
    static func directShareEndToEnd(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob", algorithm: .mlKem1024)
            let carol = try await harness.newUser("carol")
            let conversationID = try await importConversation(alice)
            let intentID = try await create(alice, intent(conversationID, audience: users(bob.did), extra: [
                "transformations": .object(["removeSystemMessages": .bool(true), "removeToolCalls": .bool(true),
                                            "redactPersonalInfo": .bool(true), "addWatermark": .object(["text": .string("for bob")]),
                                            "addAttribution": .bool(true)]),
                "metadata": .object(["title": .string("Plan"), "tags": .array([.string("work")])]),
            ]))
            let published = try await publish(alice, intentID)
            let contentID = try #require(published["contentId"]?.string)
            #expect(published["distribution"]?["replicas"]?.number == 1)

            // Bob: fetch, verify against Alice's DID (through her delegation), open with his own key.
            let (bundle, response) = try await bob.client.fetchContent(contentID)
            #expect(bundle.ownerDid == alice.did)
            #expect(bundle.keyCapsules.map(\.recipientDid) == [bob.did])
            #expect(bundle.keyCapsules.first?.kem == .mlKem1024)
            #expect(response.data["permissions"]?["view"] == .bool(true) && response.data["permissions"]?["copy"] == .bool(false))
            let opened = try plaintext(BundleOpener.open(bundle, recipientDid: bob.did, keyPair: bob.keyPair))
            let text = texts(opened)
            #expect(opened["title"]?.string == "Plan")
            #expect(!text.contains("You are terse") && !text.contains("calendar") && !text.contains("booked"))
            #expect(!text.contains("jane.doe@example.com") && !text.contains("7946"))
            #expect(text.contains("Booked for Monday"))
            #expect(opened["watermark"]?["text"]?.string == "for bob")
            #expect(opened["attribution"] != nil)
            #expect(opened["messages"]?.array?.contains { $0["role"]?.string == "system" } == false)

            // Carol is not in the audience: she cannot read it, nor even see the intent.
            await expectAPIError("NOT_FOUND") { try await carol.client.send(.GET, "/api/v1/content/\(contentID)") }
            await expectAPIError("NOT_FOUND") { try await harness.anonymous.send(.GET, "/api/v1/content/\(contentID)") }
            await expectAPIError("NOT_FOUND") { try await carol.client.send(.GET, "/api/v1/sharing/intents/\(intentID)") }
            await expectAPIError("NOT_FOUND") { try await carol.client.send(.GET, "/api/v1/sharing/intents/\(IntentID())") }
            #expect(throws: (any Error).self) { try BundleOpener.open(bundle, recipientDid: carol.did, keyPair: carol.keyPair) }

            // Received shares and the owner's counts.
            let received = try await bob.client.send(.GET, "/api/v1/sharing/received")
            #expect(received.data.array?.first?["contentId"]?.string == contentID)
            let check = try await bob.client.send(.GET, "/api/v1/permissions/\(conversationID)/check?permission=view")
            #expect(check.data["allowed"] == .bool(true))
            let effective = try await alice.client.send(.GET, "/api/v1/permissions/\(contentID)/effective?userDid=\(bob.did)")
            #expect(effective.data["permissions"]?["view"] == .bool(true))
            await expectAPIError("NOT_FOUND") {
                try await carol.client.send(.GET, "/api/v1/permissions/\(conversationID)/check?permission=view&userDid=\(bob.did)")
            }
            let read = try await alice.client.send(.GET, "/api/v1/conversations/\(conversationID)")
            #expect(read.data["conversation"]?["privacyLevel"]?.string == "SHARED")

            // Revocation: no longer served, the bundle is gone from the content store.
            let revoked = try await alice.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/revoke", json: .object(["reason": .string("oops")]))
            #expect(revoked.data["status"]?.string == "REVOKED" && revoked.data["revokedReason"]?.string == "oops")
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/content/\(contentID)") }
            #expect(!harness.server.app.services.bundles.contains(contentID))
            await expectAPIError("CONFLICT") { try await alice.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/revoke") }
        }
    }

    /// PUBLIC: readable without a session, key in the answer; searchable.
    static func publicShare(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice")
            let conversationID = try await importConversation(alice)
            let intentID = try await create(alice, intent(conversationID, audience: .object(["type": .string("public")]), extra: [
                "metadata": .object(["title": .string("Open notes"), "tags": .array([.string("open")])]),
            ]))
            let contentID = try #require(try await publish(alice, intentID)["contentId"]?.string)
            let (bundle, response) = try await harness.anonymous.fetchContent(contentID)
            #expect(bundle.isCapsuleless)
            let key = try ContentKey(base64URL: try #require(response.data["contentKey"]?.string))
            #expect(texts(try plaintext(BundleOpener.open(bundle, contentKey: key))).contains("Booked for Monday"))
            let found = try await harness.anonymous.send(.GET, "/api/v1/content?q=open")
            #expect(found.data.array?.map { $0["contentId"]?.string } == [contentID])
            #expect(try await harness.anonymous.send(.GET, "/api/v1/content?q=nothing-like-this").data.array?.isEmpty == true)
            let read = try await alice.client.send(.GET, "/api/v1/conversations/\(conversationID)")
            #expect(read.data["conversation"]?["privacyLevel"]?.string == "PUBLIC")
        }
    }

    /// CIRCLE: one epoch wrap; members open through their epoch-key capsule; a removed member
    /// loses access on the next request, and later shares use a new epoch.
    static func circleShareWithEpochKeys(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob"), dave = try await harness.newUser("dave")
            let circle = try #require(try await alice.client.send(.POST, "/api/v1/circles", json: .object(["name": .string("team")])).data["id"]?.string)
            for member in [bob, dave] {
                try await alice.client.send(.POST, "/api/v1/circles/\(circle)/members", json: .object(["did": .string(member.did.description)]))
            }
            let conversationID = try await importConversation(alice)
            let audience: JSONValue = .object(["type": .string("CIRCLE"), "circleIds": .array([.string(circle)])])
            let first = try await create(alice, intent(conversationID, audience: audience))
            let contentID = try #require(try await publish(alice, first)["contentId"]?.string)

            let (bundle, _) = try await bob.client.fetchContent(contentID)
            #expect(bundle.keyCapsules.isEmpty && bundle.epochCapsules.count == 1)
            let capsules = try await bob.client.send(.GET, "/api/v1/circles/\(circle)/keys").data
            let capsule = try JSONDecoder().decode([EpochKeyCapsule].self, from: JSONEncoder().encode(capsules))
            let epochKey = try #require(capsule.first).open(keyPair: bob.keyPair)
            #expect(texts(try plaintext(BundleOpener.open(bundle, epochKey: epochKey))).contains("Booked for Monday"))

            // Dave leaves: access ends at once; the next share uses epoch 2, which Dave never gets.
            try await alice.client.send(.DELETE, "/api/v1/circles/\(circle)/members/\(dave.did)")
            await expectAPIError("NOT_FOUND") { try await dave.client.send(.GET, "/api/v1/content/\(contentID)") }
            let second = try await create(alice, intent(conversationID, audience: audience))
            let secondID = try #require(try await publish(alice, second)["contentId"]?.string)
            let (secondBundle, _) = try await bob.client.fetchContent(secondID)
            #expect(secondBundle.epochCapsules.first?.epoch == 2)
            let bobKeys = try JSONDecoder().decode([EpochKeyCapsule].self, from: JSONEncoder().encode(
                try await bob.client.send(.GET, "/api/v1/circles/\(circle)/keys").data))
            let epoch2 = try #require(bobKeys.first { $0.epoch == 2 }).open(keyPair: bob.keyPair)
            #expect(try BundleOpener.open(secondBundle, epochKey: epoch2).count > 0)
            #expect(throws: (any Error).self) { try BundleOpener.open(secondBundle, epochKey: epochKey) }
            // Dave is outside the private circle now: it does not exist for him.
            await expectAPIError("NOT_FOUND") { try await dave.client.send(.GET, "/api/v1/circles/\(circle)/keys") }
        }
    }

    /// LINK: zero-knowledge; the key comes once with publish; passwords, maxUses, disabling.
    static func linkShare(_ kind: StoreKind) async throws {
        try await Harness.with(kind, configure: { $0.passwordHashCost = 10 }) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
            let conversationID = try await importConversation(alice)
            let intentID = try await create(alice, intent(conversationID, audience: .object(["type": .string("LINK")])))
            let published = try await publish(alice, intentID)
            let key = try #require(published["linkKey"]?.string)
            let created = try await alice.client.send(.POST, "/api/v1/sharing/links", json: .object([
                "intentId": .string(intentID), "password": .string("correct horse"), "maxUses": .number(2)]))
            let code = try #require(created.data["link"]?["code"]?.string)
            #expect(code.count >= 22)
            #expect(created.data["url"]?.string?.hasSuffix("/s/\(code)") == true)

            let info = try await harness.anonymous.send(.GET, "/api/v1/sharing/links/\(code)")
            #expect(info.data["requiresPassword"] == .bool(true) && info.data["zeroKnowledge"] == .bool(true))
            #expect(info.data["content"]?["contentId"] == nil)
            let raw = try await harness.raw(.GET, "/api/v1/sharing/links/\(code)")
            #expect(!(String(describing: raw.json)).contains("scrypt"))

            await expectAPIError("FORBIDDEN") {
                try await harness.anonymous.send(.POST, "/api/v1/sharing/links/\(code)/access", json: .object(["password": .string("wrong one")]))
            }
            let access = try await harness.anonymous.send(.POST, "/api/v1/sharing/links/\(code)/access", json: .object(["password": .string("correct horse")]))
            #expect(access.data["contentKey"] == nil)
            let bundle = try ContentBundle(jsonData: JSONEncoder().encode(try #require(access.data["bundle"])))
            #expect(texts(try plaintext(BundleOpener.open(bundle, linkFragment: key))).contains("Booked for Monday"))
            _ = try await harness.anonymous.send(.POST, "/api/v1/sharing/links/\(code)/access", json: .object(["password": .string("correct horse")]))
            await expectAPIError("FORBIDDEN") {  // used up
                try await harness.anonymous.send(.POST, "/api/v1/sharing/links/\(code)/access", json: .object(["password": .string("correct horse")]))
            }
            // Links are listed by their creator, and disabled links look like no link at all.
            #expect(try await alice.client.send(.GET, "/api/v1/sharing/links").data.array?.count == 1)
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.DELETE, "/api/v1/sharing/links/\(code)") }
            try await alice.client.send(.DELETE, "/api/v1/sharing/links/\(code)")
            await expectAPIError("NOT_FOUND") { try await harness.anonymous.send(.GET, "/api/v1/sharing/links/\(code)") }
            await expectAPIError("NOT_FOUND") { try await harness.anonymous.send(.GET, "/api/v1/sharing/links/\(String(repeating: "A", count: 43))") }
            await expectAPIError("VALIDATION_ERROR") { try await harness.anonymous.send(.GET, "/api/v1/sharing/links/short") }
        }
    }

    /// Every permission flag reaches the resolver's answer, alone.
    static func everyPermissionFlag(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
            let conversationID = try await importConversation(alice)
            for flag in ["copy", "annotate", "remix", "share", "download"] {
                let intentID = try await create(alice, intent(conversationID, audience: users(bob.did), permissions: ["view": true, flag: true],
                                                              extra: flag == "remix" ? ["intentType": .string("FORK")] : [:]))
                _ = try await publish(alice, intentID)
                for permission in ["view", "copy", "annotate", "remix", "share", "download"] {
                    let check = try await bob.client.send(.GET, "/api/v1/permissions/\(conversationID)/check?permission=\(permission)")
                    #expect(check.data["allowed"] == .bool(permission == "view" || permission == flag), "\(flag) → \(permission)")
                }
                try await alice.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/revoke")
            }
            let none = try await bob.client.send(.GET, "/api/v1/permissions/\(conversationID)/check?permission=view")
            #expect(none.data["allowed"] == .bool(false) && none.data["reason"]?.string == "NO_ACCESS")
            await expectAPIError("VALIDATION_ERROR") {
                try await bob.client.send(.GET, "/api/v1/permissions/\(conversationID)/check?permission=fly")
            }
            let owner = try await alice.client.send(.GET, "/api/v1/permissions/\(conversationID)/effective")
            #expect(owner.data["isOwner"] == .bool(true))
        }
    }

    /// Validation and policy refusals answer 400/422 with the full report; nothing is stored.
    static func refusals(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
            let conversationID = try await importConversation(alice)
            let bobsConversation = try await importConversation(bob)
            let notOwned = try await harness.raw(.POST, "/api/v1/sharing/intents", body: Array(try JSONEncoder().encode(
                intent(bobsConversation, audience: users(bob.did)))), headers: [("Content-Type", "application/json")], token: alice.token)
            Harness.expectError(notOwned, status: 400, code: "VALIDATION_ERROR")
            #expect(notOwned.json?["error"]?["details"]?["errors"]?.array?.first?["field"]?.string == "content.ids[0]")
            let bad = try await harness.raw(.POST, "/api/v1/sharing/intents", body: Array(#"{"content":{"type":"poem","ids":["x"]},"audience":{"type":"MARS"}}"#.utf8),
                                            headers: [("Content-Type", "application/json")], token: alice.token)
            Harness.expectError(bad, status: 400, code: "VALIDATION_ERROR")
            #expect((bad.json?["error"]?["details"]?["errors"]?.array?.count ?? 0) >= 2)
            await expectAPIError("VALIDATION_ERROR") {
                try await alice.client.send(.POST, "/api/v1/sharing/intents", json: intent(conversationID, audience: users(bob.did), permissions: ["view": false, "copy": true]))
            }
            // Locked content is a policy violation.
            try await alice.client.send(.PATCH, "/api/v1/conversations/\(conversationID)", json: .object(["locked": .bool(true)]))
            let locked = try await harness.raw(.POST, "/api/v1/sharing/intents", body: Array(try JSONEncoder().encode(intent(conversationID, audience: users(bob.did)))),
                                               headers: [("Content-Type", "application/json")], token: alice.token)
            Harness.expectError(locked, status: 422, code: "POLICY_VIOLATION")
            #expect(locked.json?["error"]?["details"]?["allowed"] == .bool(false))
            #expect(try await alice.client.send(.GET, "/api/v1/sharing/intents").data.array?.isEmpty == true)
        }
    }

    /// 50 concurrent uses of a `maxUses: 1` link: exactly one succeeds. 50 concurrent publishes
    /// of one intent: one ACTIVE intent, one content record.
    static func races(_ kind: StoreKind) async throws {
        try await Harness.with(kind, configure: { $0.rateLimits = [.linkAccess: .perMinute(10_000)] }) { harness in
            let alice = try await harness.newUser("alice")
            let conversationID = try await importConversation(alice)
            let intentID = try await create(alice, intent(conversationID, audience: .object(["type": .string("public")])))
            let results = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<50 {
                    group.addTask { try? await alice.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/publish").data["contentId"]?.string }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            let ids = Set(results.compactMap { $0 })
            #expect(ids.count == 1, "one content id for every successful publish: \(ids)")
            let master = harness.server.app.services.master
            let records = try await master.contentRecords(ContentQuery(ownerDid: alice.did))
            #expect(records.totalItems == 1)
            #expect(try await master.intent(IntentID(trusted: intentID))?.status == .active)

            let link = try await alice.client.send(.POST, "/api/v1/sharing/links", json: .object(["intentId": .string(intentID), "maxUses": .number(1)]))
            let code = try #require(link.data["link"]?["code"]?.string)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await harness.raw(.POST, "/api/v1/sharing/links/\(code)/access", body: Array("{}".utf8),
                                                          headers: [("Content-Type", "application/json")]).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == 403 }.count == 49)
        }
    }

    /// The scheduler on a driven clock: ACTIVE at publishAt, EXPIRED at expiresAt — also when
    /// the server restarts in between.
    static func scheduleAcrossRestart(_ kind: StoreKind) async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.dataDirectory = directory
        configuration.logLevel = .error
        configuration.runsScheduler = false
        configuration.tokenLifetime = 30 * 86_400  // the clock jumps hours ahead
        if kind == .postgresql { configuration.masterDatabaseURL = try await TestDatabases.freshPostgresDatabase() }

        let first = try await RunningServer.start(try await VivimServerApp.make(configuration: configuration, clock: clock))
        let harness = Harness(server: first, anonymous: VivimAPIClient(baseURL: first.baseURL), directory: directory)
        let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
        let conversationID = try await importConversation(alice)
        let publishAt = clock.now.addingTimeInterval(3_600), expiresAt = clock.now.addingTimeInterval(7_200)
        let intentID = try await create(alice, intent(conversationID, audience: users(bob.did), extra: [
            "schedule": .object(["publishAt": .string(RFC3339.format(publishAt)), "expiresAt": .string(RFC3339.format(expiresAt))]),
            "expiration": .object(["type": .string("time")]),
        ]))
        await expectAPIError("CONFLICT") { try await alice.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/publish") }
        clock.advance(by: 3_599)
        #expect(try await first.app.runSchedulerOnce() == 0)
        clock.advance(by: 1)
        #expect(try await first.app.runSchedulerOnce() == 1)
        let active = try await alice.client.send(.GET, "/api/v1/sharing/intents/\(intentID)").data
        #expect(active["status"]?.string == "ACTIVE")
        #expect(abs((active["publishedAt"]?.string.flatMap { try? RFC3339.parse($0, field: "t") } ?? .distantPast).timeIntervalSince(publishAt)) < 0.002,
                "published at the scheduled instant, not the sweep's")
        let received = try await bob.client.send(.GET, "/api/v1/sharing/received").data.array ?? []
        let contentID = try #require(received.first?["contentId"]?.string)
        _ = try await bob.client.fetchContent(contentID)
        await first.stop()

        // Down across expiresAt; the new instance expires it on its first sweep.
        clock.advance(by: 4_000)
        let second = try await RunningServer.start(try await VivimServerApp.make(configuration: configuration, clock: clock))
        let again = Harness(server: second, anonymous: VivimAPIClient(baseURL: second.baseURL), directory: directory)
        let (aliceClient, _, _) = try await again.anonymous.login(identity: alice.identity)
        let (bobClient, _, _) = try await again.anonymous.login(identity: bob.identity)
        #expect(try await second.app.runSchedulerOnce() == 1)
        #expect(try await second.app.runSchedulerOnce() == 0)
        let expired = try await aliceClient.send(.GET, "/api/v1/sharing/intents/\(intentID)").data
        #expect(expired["status"]?.string == "EXPIRED")
        #expect(abs((expired["expiresAt"]?.string.flatMap { try? RFC3339.parse($0, field: "t") } ?? .distantPast).timeIntervalSince(expiresAt)) < 0.002,
                "expired at the scheduled instant, not at the restart")
        await expectAPIError("NOT_FOUND") { try await bobClient.send(.GET, "/api/v1/content/\(contentID)") }
        let events = try await second.app.services.master.events(type: .shareExpired, subject: intentID, limit: 10)
        #expect(events.count == 1)
        await second.stop()
    }

    /// A view budget ends the share after maxViews views, even under concurrency.
    static func viewBudget(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
            let conversationID = try await importConversation(alice)
            let intentID = try await create(alice, intent(conversationID, audience: users(bob.did), extra: [
                "expiration": .object(["type": .string("access"), "maxViews": .number(3)])]))
            let contentID = try #require(try await publish(alice, intentID)["contentId"]?.string)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await harness.raw(.GET, "/api/v1/content/\(contentID)", token: bob.token).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 3, "\(statuses)")
            try await harness.server.app.runSchedulerOnce()
            #expect(try await alice.client.send(.GET, "/api/v1/sharing/intents/\(intentID)").data["status"]?.string == "EXPIRED")
            let stats = try await harness.server.app.services.userDatabases.database(for: alice.did).contentStats(conversationID)
            #expect(stats.viewCount == 3 && stats.uniqueViewers == 1)
        }
    }

    /// Acceptance, cancel, update, suggestions and the rate limit headers.
    static func recipientsAndOwnerTools(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob"), carol = try await harness.newUser("carol")
            let conversationID = try await importConversation(alice)
            let intentID = try await create(alice, intent(conversationID, audience: users(bob.did), extra: [
                "policy": .object(["requireAcceptance": .bool(true)])]))
            let contentID = try #require(try await publish(alice, intentID)["contentId"]?.string)
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/content/\(contentID)") }
            await expectAPIError("NOT_FOUND") { try await carol.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/accept") }
            try await bob.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/accept")
            _ = try await bob.client.fetchContent(contentID)
            try await bob.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/decline")
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/content/\(contentID)") }

            // Updating permissions of an ACTIVE intent takes effect at once.
            let updated = try await alice.client.send(.PATCH, "/api/v1/sharing/intents/\(intentID)", json: .object([
                "permissions": .object(["view": .bool(true), "download": .bool(true)]), "policy": .object(["requireAcceptance": .bool(false)])]))
            #expect(updated.data["intent"]?["version"]?.number ?? 0 > 4)
            let check = try await bob.client.send(.GET, "/api/v1/permissions/\(conversationID)/check?permission=download")
            #expect(check.data["allowed"] == .bool(false))  // Bob declined; his answer stands.
            await expectAPIError("FORBIDDEN") {
                try await bob.client.send(.PATCH, "/api/v1/sharing/intents/\(intentID)", json: .object(["permissions": .object(["view": .bool(true)])]))
            }

            // An intent built and signed on the client keeps the actor's verified signature.
            let builder = IntentBuilder(owner: alice.did).content(.conversation, ids: [ContentID(trusted: conversationID)])
                .toUsers([carol.did]).permissions(Permissions(view: true, copy: true)).redactPersonalInfo().watermark("w").title("signed")
            let signed = try await alice.client.createIntent(builder, signedBy: alice.identity).data["intent"]
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .custom { try RFC3339.parse(try $0.singleValueContainer().decode(String.self), field: "date") }
            let signedIntent = try decoder.decode(SharingIntent.self, from: JSONEncoder().encode(try #require(signed)))
            #expect(signedIntent.signature != nil && signedIntent.spec == builder.spec)
            #expect(alice.did.verifies(base64URLSignature: signedIntent.signature ?? "", over: signedIntent.signingPayload()))
            var forged = try builder.signedBody(by: alice.identity)
            forged = Data(String(decoding: forged, as: UTF8.self).replacingOccurrences(of: "\"copy\":true", with: "\"copy\":false").utf8)
            await expectAPIError("VALIDATION_ERROR") { try await alice.client.send(.POST, "/api/v1/sharing/intents", body: forged) }
            await expectAPIError("VALIDATION_ERROR") { try await carol.client.createIntent(builder, signedBy: carol.identity) }

            // Changing the audience of a published intent seals it again: Carol gets a capsule and
            // opens it with her key; Bob, dropped, loses access; the old bundle is withdrawn.
            let widened = try await alice.client.send(.PATCH, "/api/v1/sharing/intents/\(intentID)", json: .object([
                "audience": .object(["type": .string("USERS"), "userDids": .array([.string(carol.did.description)])])]))
            #expect(widened.data["intent"]?["audience"]?["userDids"]?.array?.count == 1)
            let resealed = try #require(try await carol.client.send(.GET, "/api/v1/sharing/received").data.array?.first?["contentId"]?.string)
            #expect(resealed != contentID)
            let (carolBundle, _) = try await carol.client.fetchContent(resealed)
            #expect(carolBundle.keyCapsules.map(\.recipientDid) == [carol.did])
            #expect(texts(try plaintext(BundleOpener.open(carolBundle, recipientDid: carol.did, keyPair: carol.keyPair))).contains("Booked for Monday"))
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/content/\(resealed)") }
            await expectAPIError("NOT_FOUND") { try await carol.client.send(.GET, "/api/v1/content/\(contentID)") }
            #expect(!harness.server.app.services.bundles.contains(contentID))

            // Cancel a draft-stage intent; it cannot then be published.
            let other = try await create(alice, intent(conversationID, audience: users(carol.did)))
            #expect(try await alice.client.send(.POST, "/api/v1/sharing/intents/\(other)/cancel").data["status"]?.string == "CANCELLED")
            await expectAPIError("CONFLICT") { try await alice.client.send(.POST, "/api/v1/sharing/intents/\(other)/publish") }

            let suggestions = try await alice.client.send(.GET, "/api/v1/sharing/suggestions?contentId=\(conversationID)").data
            #expect(suggestions["basedOnShares"]?.number == 2)
            #expect(suggestions["audience"]?.array?.first?["value"]?["type"]?.string == "USERS")
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/sharing/suggestions?contentId=\(conversationID)") }

            let filtered = try await alice.client.send(.GET, "/api/v1/sharing/intents?status=active&audienceType=USERS&sortBy=publishedAt&sortOrder=asc")
            #expect(filtered.data.array?.map { $0["id"]?.string } == [intentID])
            let limited = try await harness.raw(.GET, "/api/v1/sharing/intents", token: alice.token)
            #expect(limited.status == 200)

            // Create-intent limit: 10 per minute per DID, with the headers.
            var last: (status: Int, json: JSONValue?) = (0, nil)
            for _ in 0..<12 {
                last = try await harness.raw(.POST, "/api/v1/sharing/intents", body: Array(try JSONEncoder().encode(intent(conversationID, audience: users(carol.did)))),
                                             headers: [("Content-Type", "application/json")], token: carol.token)
            }
            Harness.expectError(last, status: 429, code: "RATE_LIMITED")
            let refusals = try await harness.server.app.services.master.auditEntries(after: 0, limit: 10_000)
                .filter { $0.event.type == .rateLimitExceeded && $0.event.actorDid == carol.did.description }
            #expect(!refusals.isEmpty && refusals.allSatisfy { $0.event.details["action"] == "CREATE_INTENT" && !$0.event.success })
        }
    }

    /// Co-owners may change an intent and, with veto power, revoke it; "until the recipient
    /// leaves the circle" ends access at once and expires the intent; every step leaves its
    /// audit entry and analytics event.
    static func coOwnersConditionsAuditAndEvents(_ kind: StoreKind) async throws {
        try await Harness.with(kind, configure: { $0.passwordHashCost = 10 }) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob"), carol = try await harness.newUser("carol")
            let circle = try #require(try await alice.client.send(.POST, "/api/v1/circles", json: .object(["name": .string("lab")])).data["id"]?.string)
            try await alice.client.send(.POST, "/api/v1/circles/\(circle)/members", json: .object(["did": .string(bob.did.description)]))
            let conversationID = try await importConversation(alice)

            // Carol co-owns without veto: she may update, not revoke.
            let shared = try await create(alice, intent(conversationID, audience: users(bob.did), extra: [
                "coOwners": .array([.string(carol.did.description)]),
                "expiration": .object(["type": .string("condition"), "condition": .object(["type": .string("RECIPIENT_LEAVES_CIRCLE"), "circleId": .string(circle)])]),
            ]))
            let contentID = try #require(try await publish(alice, shared)["contentId"]?.string)
            let updated = try await carol.client.send(.PATCH, "/api/v1/sharing/intents/\(shared)", json: .object(["metadata": .object(["title": .string("by carol")])]))
            #expect(updated.data["intent"]?["metadata"]?["title"]?.string == "by carol")
            await expectAPIError("FORBIDDEN") { try await carol.client.send(.POST, "/api/v1/sharing/intents/\(shared)/revoke") }

            // Bob leaves the circle: his access ends on the next request; the sweep expires the intent.
            _ = try await bob.client.fetchContent(contentID)
            try await bob.client.send(.DELETE, "/api/v1/circles/\(circle)/members/\(bob.did)")
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/content/\(contentID)") }
            try await harness.server.app.runSchedulerOnce()
            #expect(try await alice.client.send(.GET, "/api/v1/sharing/intents/\(shared)").data["status"]?.string == "EXPIRED")

            // With veto power a co-owner may revoke.
            let vetoed = try await create(alice, intent(conversationID, audience: .object(["type": .string("public")]), extra: [
                "coOwners": .array([.string(carol.did.description)]), "vetoPower": .bool(true)]))
            let publicID = try #require(try await publish(alice, vetoed)["contentId"]?.string)
            let link = try await alice.client.send(.POST, "/api/v1/sharing/links", json: .object(["intentId": .string(vetoed)]))
            let code = try #require(link.data["link"]?["code"]?.string)
            _ = try await harness.anonymous.send(.POST, "/api/v1/sharing/links/\(code)/access", json: .object([:]))
            _ = try await harness.anonymous.fetchContent(publicID)
            try await carol.client.send(.POST, "/api/v1/sharing/intents/\(vetoed)/revoke", json: .object(["reason": .string("veto")]))
            await expectAPIError("NOT_FOUND") { try await harness.anonymous.send(.GET, "/api/v1/sharing/links/\(code)") }

            // Audit entries and analytics events, written to the master store.
            let master = harness.server.app.services.master
            var audit: [AuditEntry] = []
            var after: Int64 = 0
            while true {
                let batch = try await master.auditEntries(after: after, limit: 500)
                guard let last = batch.last else { break }
                audit += batch
                after = last.sequence
            }
            let types = Set(audit.map(\.event.type))
            #expect(types.isSuperset(of: [.shareCreate, .shareAccess, .shareRevoke]))
            if case .valid = try await master.verifyAuditChain() {} else { Issue.record("the audit chain does not verify") }
            for type in [AnalyticsEventType.shareCreated, .sharePublished, .shareExpired, .shareRevoked, .linkCreated, .linkClicked, .contentViewed] {
                #expect(try await !master.events(type: type, subject: nil, limit: 10).isEmpty, "\(type.rawValue) event")
            }
            let log = try await master.accessLog(contentId: contentID, limit: 10)
            #expect(log.contains { $0.success && $0.accessorDid == bob.did } && log.contains { !$0.success && $0.accessorDid == bob.did })
        }
    }
}

@Suite struct SharingAPISQLiteTests {
    @Test func directShareEndToEnd() async throws { try await SharingAPI.directShareEndToEnd(.sqlite) }
    @Test func publicShare() async throws { try await SharingAPI.publicShare(.sqlite) }
    @Test func circleShareWithEpochKeys() async throws { try await SharingAPI.circleShareWithEpochKeys(.sqlite) }
    @Test func linkShare() async throws { try await SharingAPI.linkShare(.sqlite) }
    @Test func everyPermissionFlag() async throws { try await SharingAPI.everyPermissionFlag(.sqlite) }
    @Test func refusals() async throws { try await SharingAPI.refusals(.sqlite) }
    @Test func races() async throws { try await SharingAPI.races(.sqlite) }
    @Test func scheduleAcrossRestart() async throws { try await SharingAPI.scheduleAcrossRestart(.sqlite) }
    @Test func viewBudget() async throws { try await SharingAPI.viewBudget(.sqlite) }
    @Test func recipientsAndOwnerTools() async throws { try await SharingAPI.recipientsAndOwnerTools(.sqlite) }
    @Test func coOwnersConditionsAuditAndEvents() async throws { try await SharingAPI.coOwnersConditionsAuditAndEvents(.sqlite) }
}

@Suite struct SharingAPIPostgreSQLTests {
    @Test func directShareEndToEnd() async throws { try await SharingAPI.directShareEndToEnd(.postgresql) }
    @Test func publicShare() async throws { try await SharingAPI.publicShare(.postgresql) }
    @Test func circleShareWithEpochKeys() async throws { try await SharingAPI.circleShareWithEpochKeys(.postgresql) }
    @Test func linkShare() async throws { try await SharingAPI.linkShare(.postgresql) }
    @Test func everyPermissionFlag() async throws { try await SharingAPI.everyPermissionFlag(.postgresql) }
    @Test func refusals() async throws { try await SharingAPI.refusals(.postgresql) }
    @Test func races() async throws { try await SharingAPI.races(.postgresql) }
    @Test func scheduleAcrossRestart() async throws { try await SharingAPI.scheduleAcrossRestart(.postgresql) }
    @Test func viewBudget() async throws { try await SharingAPI.viewBudget(.postgresql) }
    @Test func recipientsAndOwnerTools() async throws { try await SharingAPI.recipientsAndOwnerTools(.postgresql) }
    @Test func coOwnersConditionsAuditAndEvents() async throws { try await SharingAPI.coOwnersConditionsAuditAndEvents(.postgresql) }
}
