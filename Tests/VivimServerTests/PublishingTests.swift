import Foundation
import GRDB
import Testing
import VivimClient
import VivimCore
import VivimCrypto
import VivimServer
import VivimStore
import VivimTestSupport

/// The publishing pipeline seen from outside: an independent Python implementation opens what
/// the server publishes; a real headless Chromium opens a zero-knowledge link; kill -9 at each
/// stage boundary leaves both databases consistent after a restart.
@Suite(.serialized) struct PublishingTests {
    static let interop = Paths.repository.appendingPathComponent("Tests/VivimCryptoTests/interop")

    static var python: String { ProcessInfo.processInfo.environment["VIVIM_PYTHON"] ?? "python3" }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Server-made bundles (signed through the owner's delegation) open in Python from
    /// docs/bundle-format.md alone, for both capsule suites; tampering with any part is refused.
    @Test func pythonOpensBundlesPublishedByTheServer() async throws {
        try await Harness.with(.sqlite) { harness in
            let alice = try await harness.newUser("alice")
            let xWing = try await harness.newUser("xwing", algorithm: .xWing), mlKem = try await harness.newUser("mlkem", algorithm: .mlKem1024)
            let conversationID = try await SharingAPI.importConversation(alice)
            let shared = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: SharingAPI.users(xWing.did, mlKem.did)))
            let contentID = try #require(try await SharingAPI.publish(alice, shared)["contentId"]?.string)
            let (bundle, _) = try await xWing.client.fetchContent(contentID)
            #expect(bundle.delegation != nil)
            let plaintext = try BundleOpener.open(bundle, recipientDid: xWing.did, keyPair: xWing.keyPair)
            let open = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: .object(["type": .string("LINK")])))
            let published = try await SharingAPI.publish(alice, open)
            let linkKey = try #require(published["linkKey"]?.string)
            let (linkBundle, _) = try await alice.client.fetchContent(try #require(published["contentId"]?.string))

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vivim-server-interop-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            func write(_ name: String, _ bundle: ContentBundle) throws { try bundle.jsonData().write(to: directory.appendingPathComponent(name + ".json")) }
            try write("bundle", bundle)
            try write("link", linkBundle)
            var tampered: [(String, ContentBundle)] = []
            var copy = bundle
            copy.ciphertext[5] ^= 1
            copy.contentId = Hashing.sha256Hex(copy.ciphertext)
            tampered.append(("ciphertext", copy))
            copy = bundle; copy.nonce[0] ^= 1; tampered.append(("nonce", copy))
            copy = bundle; copy.keyCapsules[0].enc[7] ^= 1; copy.keyCapsules[1].wrapped[3] ^= 1; tampered.append(("capsule", copy))
            copy = bundle; copy.signature[0] ^= 1; tampered.append(("signature", copy))
            copy = bundle; copy.delegation?.signature[1] ^= 1; tampered.append(("delegation", copy))
            copy = bundle; copy.delegation?.notAfter = "2000-01-01T00:00:00Z"; tampered.append(("delegation-window", copy))
            for (name, bundle) in tampered { try write("tampered-" + name, bundle) }

            func recipient(_ user: Harness.TestUser) -> [String: Any] {
                ["kind": "recipient", "recipientDid": user.did.description, "kem": user.keyPair.publicKey.algorithm.rawValue,
                 "secretKey": Base64URL.encode(user.keyPair.secretRepresentation)]
            }
            var cases: [[String: Any]] = [
                ["name": "X-Wing recipient", "bundle": "bundle.json", "open": recipient(xWing), "expect": ["plaintext": Base64URL.encode(plaintext)]],
                ["name": "ML-KEM-1024 recipient", "bundle": "bundle.json", "open": recipient(mlKem), "expect": ["plaintext": Base64URL.encode(plaintext)]],
                ["name": "non-recipient", "bundle": "bundle.json", "open": recipient(alice), "expect": "reject"],
                ["name": "zero-knowledge link", "bundle": "link.json", "open": ["kind": "link", "fragment": linkKey],
                 "expect": ["plaintext": Base64URL.encode(try BundleOpener.open(linkBundle, linkFragment: linkKey))]],
            ]
            for (name, _) in tampered {
                for user in [xWing, mlKem] {
                    cases.append(["name": "tampered \(name) (\(user.keyPair.publicKey.algorithm.rawValue))", "bundle": "tampered-\(name).json",
                                  "open": recipient(user), "expect": "reject"])
                }
                #expect(throws: (any Error).self) {
                    try BundleOpener.open(tampered.first { $0.0 == name }!.1, recipientDid: xWing.did, keyPair: xWing.keyPair)
                }
            }
            try JSONSerialization.data(withJSONObject: ["cases": cases], options: [.sortedKeys]).write(to: directory.appendingPathComponent("manifest.json"))
            let result = try Self.run([Self.python, Self.interop.appendingPathComponent("open_bundle.py").path, directory.path])
            #expect(result.status == 0, "open_bundle.py:\n\(result.output)")
        }
    }

    /// A zero-knowledge link opens in a real headless Chromium; the key never reaches the server.
    @Test func zeroKnowledgeLinkOpensInHeadlessChromium() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "-server.log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let server = try ServerProcess(dataDirectory: directory, logLevel: "debug", logFile: log)
        try server.start()
        defer { _ = server.terminate() }
        let harnessClient = VivimAPIClient(baseURL: server.baseURL)
        let identity = SigningIdentity(), device = try DeviceID(parsing: "browser-test")
        try await harnessClient.register(identity: identity, encryptionKey: try EncryptionKeyPair.generate().publicKey, deviceID: device)
        let (alice, _, _) = try await harnessClient.login(identity: identity, deviceID: device)
        try await alice.delegatePublishing(identity: identity)
        var body = try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(SharingAPI.conversation))
        body["messages"] = .array((body["messages"]?.array ?? []) + [.object(["role": .string("user"), "content": .string("<script>alert(1)</script> & <img src=x onerror=alert(2)>")])])
        let conversationID = try #require(try await alice.send(.POST, "/api/v1/conversations", json: .object(body)).data["id"]?.string)
        let intentID = try #require(try await alice.send(.POST, "/api/v1/sharing/intents", json: SharingAPI.intent(
            conversationID, audience: .object(["type": .string("LINK")]), extra: ["metadata": .object(["title": .string("Browser test")])])).data["intent"]?["id"]?.string)
        let published = try await alice.send(.POST, "/api/v1/sharing/intents/\(intentID)/publish").data
        let key = try #require(published["linkKey"]?.string)
        let link = try await alice.send(.POST, "/api/v1/sharing/links", json: .object(["intentId": .string(intentID)])).data
        let url = try #require(link["url"]?.string) + "#" + key

        let check = Paths.repository.appendingPathComponent("Tests/clients/zk_viewer_check.py").path
        let result = try Self.run([Self.python, check, url, "--timeout", "30"])
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let report = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        #expect(result.status == 0, "zk_viewer_check.py: \(result.output)")
        #expect(report["status"]?.string == "ok", "\(result.output)")
        #expect(report["signature"]?.string == "verified")
        let text = report["text"]?.string ?? ""
        #expect(text.contains("Booked for Monday") && text.contains("<script>alert(1)</script>"))
        #expect(report["console"]?.array?.contains { ($0.string ?? "").contains("Content Security Policy") } != true)
        for request in report["requests"]?.array ?? [] {
            #expect(!(request.string ?? "").contains(key), "a request carried the key: \(request)")
        }
        // A wrong key shows an error and nothing of the content.
        let wrong = try Self.run([Self.python, check, try #require(link["url"]?.string) + "#" + ContentKey.generate().base64URL, "--timeout", "30"])
        let wrongReport = try JSONDecoder().decode(JSONValue.self, from: Data((wrong.output.split(separator: "\n").last.map(String.init) ?? "").utf8))
        #expect(wrongReport["status"]?.string == "error" && !(wrongReport["text"]?.string ?? "").contains("Booked"))

        _ = server.terminate()
        let serverLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(serverLog.contains("/s/\(link["link"]?["code"]?.string ?? "?")"), "the debug log records requests")
        #expect(!serverLog.contains(key), "the server log contains the link's key")
    }

    /// kill -9 at each stage boundary of a publish, restart: the publish is finished, exactly
    /// once, and the master store, the content store and the owner's file agree.
    @Test(arguments: ["after-seal", "after-commit", "after-distribute", "after-user-file"])
    func crashAtEachStageBoundaryThenRecover(_ point: String) async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let crashing = try ServerProcess(dataDirectory: directory, environment: ["VIVIM_FAULT_INJECT": point])
        try crashing.start()
        let anonymous = VivimAPIClient(baseURL: crashing.baseURL)
        let identity = SigningIdentity(), bobIdentity = SigningIdentity(), bobKeys = try EncryptionKeyPair.generate()
        try await anonymous.register(identity: identity, encryptionKey: try EncryptionKeyPair.generate().publicKey, deviceID: try DeviceID(parsing: "a"))
        try await anonymous.register(identity: bobIdentity, encryptionKey: bobKeys.publicKey, deviceID: try DeviceID(parsing: "b"))
        let (alice, _, _) = try await anonymous.login(identity: identity)
        try await alice.delegatePublishing(identity: identity)
        let conversationID = try #require(try await alice.send(.POST, "/api/v1/conversations", json: SharingAPI.conversation).data["id"]?.string)
        let intentID = try #require(try await alice.send(.POST, "/api/v1/sharing/intents", json: SharingAPI.intent(
            conversationID, audience: SharingAPI.users(bobIdentity.did))).data["intent"]?["id"]?.string)
        await #expect(throws: (any Error).self) { try await alice.send(.POST, "/api/v1/sharing/intents/\(intentID)/publish") }
        crashing.process.waitUntilExit()
        #expect(crashing.process.terminationReason == .uncaughtSignal)

        let restarted = try ServerProcess(dataDirectory: directory)
        try restarted.start()
        defer { _ = restarted.terminate() }
        let (aliceAgain, _, _) = try await VivimAPIClient(baseURL: restarted.baseURL).login(identity: identity)
        var status = ""
        for _ in 0..<100 {  // the scheduler sweeps every second and finishes interrupted publishes
            status = try await aliceAgain.send(.GET, "/api/v1/sharing/intents/\(intentID)").data["status"]?.string ?? ""
            if status == "ACTIVE", try await aliceAgain.send(.GET, "/api/v1/conversations/\(conversationID)").data["conversation"]?["stats"]?["shareCount"]?.number == 1 {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(status == "ACTIVE", "after a crash \(point)")
        let (bob, _, _) = try await VivimAPIClient(baseURL: restarted.baseURL).login(identity: bobIdentity)
        let received = try await bob.send(.GET, "/api/v1/sharing/received").data.array ?? []
        let contentID = try #require(received.first?["contentId"]?.string)
        let (bundle, _) = try await bob.fetchContent(contentID)
        #expect(try BundleOpener.open(bundle, recipientDid: bobIdentity.did, keyPair: bobKeys).count > 0)
        let publishAgain = try await aliceAgain.send(.POST, "/api/v1/sharing/intents/\(intentID)/publish").data
        #expect(publishAgain["contentId"]?.string == contentID && publishAgain["alreadyPublished"] == .bool(true))
        _ = restarted.terminate()

        // The invariants, read straight from the files.
        let master = try SQLiteMasterStore(path: directory + "/master.sqlite")
        let records = try await master.contentRecords(ContentQuery(ownerDid: identity.did))
        #expect(records.totalItems == 1, "one record, no duplicate")
        #expect(try await master.publishJob(IntentID(trusted: intentID)) == nil, "the outbox is empty")
        let bundles = try BundleStore(dataDirectory: directory)
        #expect(bundles.allContentIDs() == [contentID], "exactly the recorded bundle is stored")
        let users = try UserDatabaseManager(dataDirectory: directory)
        #expect(try await users.database(for: identity.did).conversation(ConversationID(trusted: conversationID))?.shareCount == 1)
        users.closeAll()
    }
}
