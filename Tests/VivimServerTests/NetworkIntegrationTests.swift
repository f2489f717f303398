import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import NIOHTTP1
import Testing
import VivimClient
import VivimCore
import VivimCrypto
import VivimNetwork
import VivimServer
import VivimTestSupport

/// The server's P2P node (issue 5, step 8): publishing goes through the node, recipients' nodes
/// are notified over gossip and fetch the bundle from it, revocation withdraws it from the
/// network, and the network endpoints and `WS /ws/network` answer. Real sockets on 127.0.0.1,
/// every wait bounded, every node shut down.
enum NetworkIntegration {
    static let nodeOn: @Sendable (inout ServerConfiguration) -> Void = { $0.node = .loopbackAnyPort }

    /// A node of the test's own (a recipient's device, a storage peer), in a fresh directory.
    struct TestNode {
        let node: VivimNode
        let directory: String

        static func start(bootstrap: [Multiaddr], type: VivimNode.NodeType) async throws -> TestNode {
            let directory = TestDatabases.temporaryDirectory()
            var configuration = VivimNode.Configuration(contentDirectory: directory + "/content")
            configuration.listen = try Multiaddr("/ip4/127.0.0.1/tcp/0")
            configuration.bootstrap = bootstrap
            configuration.nodeType = type
            var logger = Logger(label: "vivim.test-node")
            logger.logLevel = .error
            let node = try VivimNode(identity: PeerKeyPair(), configuration: configuration, logger: logger)
            do { try await node.start() } catch {
                await node.shutdown()
                throw error
            }
            return TestNode(node: node, directory: directory)
        }

        func stop() async {
            await node.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Runs `body` with the nodes it starts, and stops them whatever happens.
    final class Nodes: @unchecked Sendable {
        private let lock = NSLock()
        private var started: [TestNode] = []

        func start(bootstrap: [Multiaddr], type: VivimNode.NodeType) async throws -> TestNode {
            let node = try await TestNode.start(bootstrap: bootstrap, type: type)
            lock.withLock { started.append(node) }
            return node
        }

        func stopAll() async {
            for node in lock.withLock({ started }) { await node.stop() }
        }
    }

    static func withNodes(_ body: (Nodes) async throws -> Void) async throws {
        let nodes = Nodes()
        do { try await body(nodes) } catch {
            await nodes.stopAll()
            throw error
        }
        await nodes.stopAll()
    }

    struct Timeout: Error, CustomStringConvertible {
        var what: String
        var description: String { "timed out waiting for \(what)" }
    }

    /// Polls `condition` until it holds, for at most `limit`.
    static func eventually(_ what: String, within limit: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Timeout(what: what)
    }

    /// The first message of `stream` that `accept`s, within `limit`.
    static func first(_ stream: AsyncStream<VivimNode.PubSubMessage>, within limit: Duration = .seconds(30), what: String,
                      where accept: @escaping @Sendable (JSONValue) -> Bool) async throws -> (VivimNode.PubSubMessage, JSONValue) {
        try await withThrowingTaskGroup(of: (VivimNode.PubSubMessage, JSONValue)?.self) { group in
            group.addTask {
                for await message in stream {
                    if let json = try? JSONDecoder().decode(JSONValue.self, from: Data(message.data)), accept(json) { return (message, json) }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let found = try await group.next() ?? nil else { throw Timeout(what: what) }
            return found
        }
    }

    /// Issue 5's acceptance: a bundle published by the server reaches a recipient's node, and
    /// the recipient is notified through PubSub; revocation withdraws it from the network.
    static func publishedBundleReachesRecipientNode(_ kind: StoreKind) async throws {
        try await Harness.with(kind, configure: nodeOn) { harness in
            let network = try #require(harness.server.app.services.network)
            let server = network.node
            let serverAddresses = await server.listenAddresses
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob"), eve = try await harness.newUser("eve")
            try await withNodes { nodes in
                // A storage peer (holds replicas) and Bob's own node (a CLIENT: his device holds no replicas).
                let storage = try await nodes.start(bootstrap: serverAddresses, type: .storage)
                let bobNode = try await nodes.start(bootstrap: serverAddresses, type: .client)
                let topic = Topic.user(bob.did.description)
                let notifications = try await bobNode.node.subscribe(topic: topic)
                try await eventually("the server's node to learn Bob's subscription") {
                    await server.pubsub.peers(subscribedTo: topic).contains(bobNode.node.peerID)
                }
                try await eventually("both peers connected to the server's node") {
                    await server.connections.connectedPeers >= 2
                }

                // Alice shares a conversation with Bob and publishes it.
                let conversationID = try await SharingAPI.importConversation(alice)
                let intentID = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: SharingAPI.users(bob.did)))
                let published = try await SharingAPI.publish(alice, intentID)
                let contentID = try #require(published["contentId"]?.string)
                let receiptProviders = published["distribution"]?["providers"]?.array?.compactMap(\.string) ?? []
                #expect(receiptProviders.first == server.peerID.description)
                #expect((published["distribution"]?["replicas"]?.number ?? 0) >= 1)

                // Bob's node is notified over gossip, by the server's node (StrictSign author).
                let (message, notice) = try await first(notifications, what: "the publication notice") {
                    $0["contentId"]?.string == contentID && $0["type"]?.string == "content.published"
                }
                #expect(message.topic == topic && message.author == server.peerID)
                #expect(notice["intentId"]?.string == intentID)
                #expect(notice["ownerDid"]?.string == alice.did.description)
                #expect(notice["contentType"]?.string == "CONVERSATION")
                #expect(notice["provider"]?.string == server.peerID.description)
                #expect(notice["discoveryMetadata"]?["audience"]?.string == "USERS")
                #expect(notice["discoveryMetadata"]?["title"] == nil, "a private share announces no title")

                // Bob fetches the bundle over the network (hash-verified) and opens it with his own key.
                let bytes = try await bobNode.node.fetch(contentId: contentID)
                let hash = ContentHash(of: bytes)
                #expect(notice["bundleHash"]?.string == hash.description)
                let bundle = try ContentBundle(jsonData: Data(bytes))
                #expect(bundle.contentId == contentID && bundle.ownerDid == alice.did)
                try BundleOpener.verify(bundle)
                let opened = try SharingAPI.plaintext(BundleOpener.open(bundle, recipientDid: bob.did, keyPair: bob.keyPair))
                #expect(SharingAPI.texts(opened).contains("Booked for Monday"))
                #expect(throws: (any Error).self) { try BundleOpener.open(bundle, recipientDid: eve.did, keyPair: eve.keyPair) }
                try await eventually("the storage peer to hold a replica") { await storage.node.storage.entry(hash) != nil }

                // The network endpoints.
                let status = try await harness.raw(.GET, "/api/v1/network/status")
                #expect(status.status == 200)
                #expect(status.json?["data"]?["status"]?.string == "healthy")
                #expect((status.json?["data"]?["activeConnections"]?.number ?? 0) >= 1)
                #expect(status.json?["data"]?["peerId"]?.string == server.peerID.description)
                let providers = try await bob.client.send(.GET, "/api/v1/network/content/\(contentID)/providers")
                let providerIDs = providers.data["providers"]?.array?.compactMap { $0["peerId"]?.string } ?? []
                #expect(providerIDs.contains(server.peerID.description))
                #expect(providerIDs.contains(storage.node.peerID.description))
                #expect(providers.data["replicaCount"]?.number == Double(providerIDs.count))
                #expect(["high", "medium", "low"].contains(providers.data["availability"]?.string ?? ""))
                // Who holds a private bundle is as private as the bundle.
                await expectAPIError("NOT_FOUND") { try await eve.client.send(.GET, "/api/v1/network/content/\(contentID)/providers") }
                await expectAPIError("NOT_FOUND") { try await harness.anonymous.send(.GET, "/api/v1/network/content/\(contentID)/providers") }
                let request = try await bob.client.send(.POST, "/api/v1/network/content/\(contentID)/request")
                #expect(request.data["status"]?.string == "complete", "the server holds the bundle already")
                await expectAPIError("NOT_FOUND") { try await eve.client.send(.POST, "/api/v1/network/content/\(contentID)/request") }

                // The server lost its copy (a wiped disk, another instance): a request brings it back
                // from the network, checked against the record (content id, owner, signature chain).
                #expect(try harness.server.app.services.bundles.delete(contentID))
                let queued = try await bob.client.send(.POST, "/api/v1/network/content/\(contentID)/request")
                #expect(queued.status == 202 && ["queued", "processing"].contains(queued.data["status"]?.string ?? ""))
                let requestID = try #require(queued.data["requestId"]?.string)
                try await eventually("the content request to complete") {
                    try await bob.client.send(.GET, "/api/v1/network/requests/\(requestID)").data["status"]?.string == "complete"
                }
                #expect(harness.server.app.services.bundles.contains(contentID))
                await expectAPIError("NOT_FOUND") { try await eve.client.send(.GET, "/api/v1/network/requests/\(requestID)") }

                // Revocation withdraws the bundle from the network: the server's node and the
                // replica holder drop it, Bob is told, and a reader that never had it cannot fetch
                // it. (The copy Bob already fetched stays on his own device, as any download does;
                // his node goes offline before the reader looks.)
                try await alice.client.send(.POST, "/api/v1/sharing/intents/\(intentID)/revoke")
                _ = try await first(notifications, what: "the revocation notice") {
                    $0["contentId"]?.string == contentID && $0["type"]?.string == "content.revoked"
                }
                #expect(!harness.server.app.services.bundles.contains(contentID))
                try await eventually("the replica to be deleted") { await storage.node.storage.entry(hash) == nil }
                #expect(await server.storage.entry(hash) == nil)
                await bobNode.node.shutdown()
                let reader = try await nodes.start(bootstrap: serverAddresses, type: .client)
                try await eventually("the reader connected to the server's node") {
                    !reader.node.host.connections(to: server.peerID).isEmpty
                }
                // The revoked record is found and refused (not merely "some error", e.g. no route yet).
                await #expect(throws: VivimNode.Error.revoked(contentID)) { _ = try await reader.node.fetch(contentId: contentID) }
                await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/network/content/\(contentID)/providers") }
            }
        }
    }

    /// Security review finding 29: a peer that fetches a LINK or a private (USERS) bundle by
    /// its DHT record, over P2P, skipping the link's `maxUses` and expiry and the recipient
    /// list, gets ciphertext that no key it holds opens. A LINK bundle has no key capsule (its
    /// key exists only in the URL fragment), a USERS bundle has capsules only for its recipients'
    /// own keys; the record in the DHT carries no key. The fragment key and the recipient's key
    /// open the very bytes the peer fetched (so the check is about the key, not the bytes).
    static func linkAndPrivateBundlesAreUselessWithoutTheirKey(_ kind: StoreKind) async throws {
        try await Harness.with(kind, configure: nodeOn) { harness in
            let server = try #require(harness.server.app.services.network).node
            let serverAddresses = await server.listenAddresses
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob"), eve = try await harness.newUser("eve")
            try await withNodes { nodes in
                let stranger = try await nodes.start(bootstrap: serverAddresses, type: .client)
                try await eventually("the stranger connected to the server's node") {
                    !stranger.node.host.connections(to: server.peerID).isEmpty
                }
                let conversationID = try await SharingAPI.importConversation(alice)

                // A public share: its content key is published, so the stranger holds it.
                let publicIntent = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: .object(["type": .string("PUBLIC")])))
                let publicContent = try #require(try await SharingAPI.publish(alice, publicIntent)["contentId"]?.string)
                let publicKey = try #require(try await harness.anonymous.send(.GET, "/api/v1/content/\(publicContent)").data["contentKey"]?.string)

                // A zero-knowledge link, limited to one use and a day.
                let linkIntent = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: .object(["type": .string("LINK")])))
                let linkPublished = try await SharingAPI.publish(alice, linkIntent)
                let linkContent = try #require(linkPublished["contentId"]?.string)
                let fragment = try #require(linkPublished["linkKey"]?.string)
                _ = try await alice.client.send(.POST, "/api/v1/sharing/links", json: .object([
                    "intentId": .string(linkIntent), "maxUses": .number(1),
                    "expiresAt": .string(ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400)))]))

                // A private share to Bob.
                let usersIntent = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: SharingAPI.users(bob.did)))
                let usersContent = try #require(try await SharingAPI.publish(alice, usersIntent)["contentId"]?.string)

                let wrongKey = VivimError.validation("content does not decrypt: wrong key or tampered bundle", field: "ciphertext")
                let noCapsule = VivimError.forbidden("the bundle holds no key capsule for this recipient and key")
                for (contentID, audience) in [(linkContent, "LINK"), (usersContent, "USERS")] {
                    // Fetched by hash from the DHT record, over P2P; no link use is consumed, no recipient check made.
                    let record = try await stranger.node.record(of: contentID)
                    let bytes = try await stranger.node.fetch(contentId: contentID)
                    #expect(ContentHash(of: bytes) == record.bundleHash)
                    let bundle = try ContentBundle(jsonData: Data(bytes))
                    try BundleOpener.verify(bundle)
                    #expect(bundle.epochCapsules.isEmpty, "\(audience)")
                    #expect(bundle.keyCapsules.allSatisfy { $0.recipientDid == bob.did }, "\(audience)")
                    #expect(bundle.keyCapsules.isEmpty == (audience == "LINK"))
                    // No key the stranger holds opens it: another share's published key, a fresh key,
                    // the encryption key of a user who is not a recipient.
                    #expect(throws: wrongKey) { try BundleOpener.open(bundle, contentKey: ContentKey(base64URL: publicKey)) }
                    #expect(throws: wrongKey) { try BundleOpener.open(bundle, contentKey: .generate()) }
                    #expect(throws: noCapsule) { try BundleOpener.open(bundle, recipientDid: eve.did, keyPair: eve.keyPair) }
                    #expect(throws: noCapsule) { try BundleOpener.open(bundle, recipientDid: bob.did, keyPair: eve.keyPair) }
                    // The server's content API gives no key to someone who is not entitled either.
                    let answer = try? await eve.client.send(.GET, "/api/v1/content/\(contentID)")
                    #expect(answer?.data["contentKey"]?.string == nil, "\(audience)")
                }
                // The keys that are meant to open them do, on the very bytes the stranger fetched.
                let linkBundle = try ContentBundle(jsonData: Data(try await stranger.node.fetch(contentId: linkContent)))
                #expect(SharingAPI.texts(try SharingAPI.plaintext(BundleOpener.open(linkBundle, linkFragment: fragment))).contains("Booked for Monday"))
                let usersBundle = try ContentBundle(jsonData: Data(try await stranger.node.fetch(contentId: usersContent)))
                #expect(try BundleOpener.open(usersBundle, recipientDid: bob.did, keyPair: bob.keyPair).count > 0)
            }
        }
    }

    /// With no peer at all, publishing succeeds: the server's node is the one provider.
    static func publishingWithoutPeers(_ kind: StoreKind) async throws {
        try await Harness.with(kind, configure: nodeOn) { harness in
            let server = try #require(harness.server.app.services.network).node
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
            let conversationID = try await SharingAPI.importConversation(alice)
            let intentID = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: SharingAPI.users(bob.did)))
            let published = try await SharingAPI.publish(alice, intentID)
            let contentID = try #require(published["contentId"]?.string)
            #expect(published["distribution"]?["providers"]?.array?.compactMap(\.string) == [server.peerID.description])
            #expect(published["distribution"]?["replicas"]?.number == 1)
            let (bundle, _) = try await bob.client.fetchContent(contentID)
            #expect(try BundleOpener.open(bundle, recipientDid: bob.did, keyPair: bob.keyPair).count > 0)
            let providers = try await bob.client.send(.GET, "/api/v1/network/content/\(contentID)/providers")
            #expect(providers.data["providers"]?.array?.compactMap { $0["peerId"]?.string } == [server.peerID.description])
            #expect(providers.data["availability"]?.string == "low")
            let status = try await harness.raw(.GET, "/api/v1/network/status")
            #expect(status.json?["data"]?["status"]?.string == "healthy" && status.json?["data"]?["activeConnections"]?.number == 0)
        }
    }
}

extension NetworkIntegration {
    /// What a refused WebSocket gets: the 101 answer, then the error text frame and the close
    /// frame. Read from the raw socket: a client library may miss frames that arrive in the same
    /// segment as the 101 answer, and this is about what the server sends.
    struct Refusal {
        var switched: Bool
        var text: String
        var closeCode: UInt16?
    }

    static func refusedWebSocket(_ harness: Harness, query: String, headers: [String] = []) async throws -> Refusal {
        var request = "GET /ws/network\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        for header in headers { request += header + "\r\n" }
        request += "\r\n"
        let port = harness.server.port, upgrade = request
        let bytes = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            group.addTask {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
                return try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: upgrade))
                    var bytes: [UInt8] = []
                    for try await chunk in inbound {
                        bytes += chunk.readableBytesView
                        if let end = headerEnd(bytes), bytes[end...].contains(0x88) { break }  // JSON text is ASCII: 0x88 starts the close frame
                    }
                    return bytes
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(20))
                throw Timeout(what: "the refused WebSocket's close frame")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
        let end = headerEnd(bytes) ?? bytes.count
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let body = Array(bytes[end...])
        var refusal = Refusal(switched: head.hasPrefix("HTTP/1.1 101"), text: "", closeCode: nil)
        // Unmasked server frames with 7-bit lengths: [0x81, n, text…][0x88, n, code…].
        if body.count >= 2, body[0] == 0x81, body.count >= 2 + Int(body[1]) {
            refusal.text = String(decoding: body[2..<(2 + Int(body[1]))], as: UTF8.self)
            let close = Array(body[(2 + Int(body[1]))...])
            if close.count >= 4, close[0] == 0x88 { refusal.closeCode = UInt16(close[2]) << 8 | UInt16(close[3]) }
        }
        return refusal
    }

    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i + 4 }
        return nil
    }
}

/// Collects the text messages a WebSocket client receives.
actor ReceivedTexts {
    private(set) var texts: [String] = []
    func append(_ text: String) { texts.append(text) }
    func contains(_ fragment: String) -> Bool { texts.contains { $0.contains(fragment) } }
}

@Suite struct NetworkIntegrationSQLiteTests {
    @Test func publishedBundleReachesRecipientNode() async throws { try await NetworkIntegration.publishedBundleReachesRecipientNode(.sqlite) }
    @Test func publishingWithoutPeers() async throws { try await NetworkIntegration.publishingWithoutPeers(.sqlite) }
    @Test func linkAndPrivateBundlesAreUselessWithoutTheirKey() async throws {
        try await NetworkIntegration.linkAndPrivateBundlesAreUselessWithoutTheirKey(.sqlite)
    }

    /// `WS /ws/network`: authenticated by `?token=`, starts with the node's status, then streams
    /// node events (here a peer joining).
    @Test func webSocketStreamsNodeEvents() async throws {
        try await Harness.with(.sqlite, configure: NetworkIntegration.nodeOn) { harness in
            let server = try #require(harness.server.app.services.network).node
            let bob = try await harness.newUser("bob")
            let received = ReceivedTexts()
            let url = "ws://127.0.0.1:\(harness.server.port)/ws/network?token=\(bob.token)"
            var logger = Logger(label: "vivim.test-ws")
            logger.logLevel = .error
            let client = Task {
                try await WebSocketClient.connect(url: url, logger: logger) { inbound, _, _ in
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        await received.append(text)
                        if text.contains("\"peer.joined\"") { return }
                    }
                }
            }
            try await NetworkIntegration.withNodes { nodes in
                try await NetworkIntegration.eventually("the status greeting") { await received.contains("\"type\":\"status\"") }
                #expect(await received.contains(server.peerID.description))
                let peer = try await nodes.start(bootstrap: await server.listenAddresses, type: .client)
                try await NetworkIntegration.eventually("the peer.joined event") { await received.contains(peer.node.peerID.description) }
                let joined = await received.texts.first { $0.contains("peer.joined") }
                let json = try JSONDecoder().decode(JSONValue.self, from: Data((joined ?? "").utf8))
                #expect(json["type"]?.string == "peer.joined" && json["peerId"]?.string == peer.node.peerID.description)
            }
            client.cancel()
            _ = try? await client.value
        }
    }

    /// Bad input on the network routes is a 4xx envelope; an unauthenticated WebSocket is not upgraded.
    @Test func networkRoutesRefuseBadInput() async throws {
        try await Harness.with(.sqlite, configure: NetworkIntegration.nodeOn) { harness in
            let bob = try await harness.newUser("bob")
            let unknown = String(repeating: "ab", count: 32)
            for path in ["/api/v1/network/content/nothex/providers", "/api/v1/network/content/\(String(repeating: "A", count: 64))/providers"] {
                Harness.expectError(try await harness.raw(.GET, path, token: bob.token), status: 400, code: "VALIDATION_ERROR")
            }
            Harness.expectError(try await harness.raw(.GET, "/api/v1/network/content/\(unknown)/providers", token: bob.token),
                                status: 404, code: "NOT_FOUND")
            Harness.expectError(try await harness.raw(.POST, "/api/v1/network/content/\(unknown)/request"), status: 401, code: "UNAUTHORIZED")
            Harness.expectError(try await harness.raw(.POST, "/api/v1/network/content/\(unknown)/request", token: bob.token),
                                status: 404, code: "NOT_FOUND")
            Harness.expectError(try await harness.raw(.POST, "/api/v1/network/content/x/request", token: bob.token),
                                status: 400, code: "VALIDATION_ERROR")
            Harness.expectError(try await harness.raw(.GET, "/api/v1/network/requests/req_nope", token: bob.token), status: 404, code: "NOT_FOUND")
            Harness.expectError(try await harness.raw(.GET, "/api/v1/network/requests/\(String(repeating: "x", count: 300))", token: bob.token),
                                status: 400, code: "VALIDATION_ERROR")
            Harness.expectError(try await harness.raw(.GET, "/api/v1/network/providers"), status: 404, code: "NOT_FOUND")
            // A plain GET of the WebSocket route.
            Harness.expectError(try await harness.raw(.GET, "/ws/network", token: bob.token), status: 400, code: "VALIDATION_ERROR")
            Harness.expectError(try await harness.raw(.GET, "/ws/network"), status: 401, code: "UNAUTHORIZED")
            // A WebSocket without a valid token gets one error message and a policy-violation close.
            for (query, headers) in [("?token=forged", [String]()), ("", []), ("", ["Authorization: Bearer forged"]),
                                     ("?token=\(bob.token)", ["Authorization: Basic \(bob.token)"])] {
                let refusal = try await NetworkIntegration.refusedWebSocket(harness, query: query, headers: headers)
                #expect(refusal.switched && refusal.closeCode == 1008, "\(query) \(headers)")
                #expect(refusal.text.contains("\"UNAUTHORIZED\""), "\(refusal.text)")
            }
        }
    }

    /// Without a node the routes still answer: status says so, providers fall back to this server.
    @Test func routesWithoutANode() async throws {
        try await Harness.with(.sqlite) { harness in
            #expect(harness.server.app.services.network == nil)
            let status = try await harness.raw(.GET, "/api/v1/network/status")
            #expect(status.status == 200 && status.json?["data"]?["enabled"] == .bool(false))
            #expect(status.json?["data"]?["status"]?.string == "unhealthy")
            let bob = try await harness.newUser("bob")
            Harness.expectError(try await harness.raw(.GET, "/ws/network", token: bob.token), status: 503, code: "SERVICE_UNAVAILABLE")
            let refusal = try await NetworkIntegration.refusedWebSocket(harness, query: "?token=\(bob.token)")
            #expect(refusal.closeCode == 1013 && refusal.text.contains("SERVICE_UNAVAILABLE"))
        }
    }
}

@Suite struct NetworkIntegrationPostgreSQLTests {
    @Test func publishedBundleReachesRecipientNode() async throws { try await NetworkIntegration.publishedBundleReachesRecipientNode(.postgresql) }
    @Test func publishingWithoutPeers() async throws { try await NetworkIntegration.publishingWithoutPeers(.postgresql) }
    @Test func linkAndPrivateBundlesAreUselessWithoutTheirKey() async throws {
        try await NetworkIntegration.linkAndPrivateBundlesAreUselessWithoutTheirKey(.postgresql)
    }
}
