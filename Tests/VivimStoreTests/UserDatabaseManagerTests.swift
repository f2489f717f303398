import Foundation
import GRDB
import Testing
import VivimCore
import VivimCrypto
import VivimStore
import VivimTestSupport

@Suite struct UserDatabaseManagerTests {
    func conversation(_ title: String, _ texts: [String]) -> ConversationInput {
        ConversationInput(provider: "test", sourceURL: nil, title: title, model: nil, createdAt: nil,
                          messages: texts.enumerated().map { MessageInput(role: $0.offset % 2 == 0 ? .user : .assistant, parts: [.text($0.element)]) })
    }

    @Test func filesAreLaidOutByHashWithPrivateModesAndWAL() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manager = try UserDatabaseManager(dataDirectory: directory)
        let did = SigningIdentity().did
        let database = try manager.create(for: did)
        let hex = Hashing.sha256Hex(did.description)
        let expected = "\(directory)/users/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex).sqlite"
        #expect(manager.path(for: did) == expected)
        #expect(database.path == expected)
        #expect(!expected.contains(did.methodSpecificID))

        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        }
        #expect(try mode(expected) == 0o600)
        #expect(try mode((expected as NSString).deletingLastPathComponent) == 0o700)
        #expect(try mode("\(directory)/users/\(hex.prefix(2))") == 0o700)
        #expect(try mode("\(directory)/users") == 0o700)
        _ = try await database.importConversation(conversation("t", ["hello"]), at: Date())
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: expected + suffix) {
            #expect(try mode(expected + suffix) == 0o600)
        }
        let journal = try await DatabaseQueue(path: expected).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
        #expect(try await database.synchronousSetting() == 2)  // FULL: acknowledged writes survive power loss
        let normal = try UserDatabaseManager(dataDirectory: directory + "/normal", durable: false).create(for: did)
        #expect(try await normal.synchronousSetting() == 1)
        #expect(try await database.schemaVersion() == "002_share_tracking")
        #expect(try await database.integrityCheck() == "ok")
    }

    @Test func theEmbeddedMasterStoreIsDurable() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteMasterStore(path: directory + "/master.sqlite")
        #expect(try await store.synchronousSetting() == 2)
    }

    @Test func openingAUserWithoutAFileIsNotFound() throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manager = try UserDatabaseManager(dataDirectory: directory)
        #expect(throws: VivimError.notFound("no database for this user")) { try manager.database(for: SigningIdentity().did) }
    }

    @Test func theCacheStaysBoundedAndReusesHandles() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manager = try UserDatabaseManager(dataDirectory: directory, capacity: 4)
        let dids = (0..<10).map { _ in SigningIdentity().did }
        for did in dids { _ = try await manager.create(for: did).importConversation(conversation("mine", ["hi"]), at: Date()) }
        #expect(manager.openCount == 4)
        let first = try manager.database(for: dids[9])
        let again = try manager.database(for: dids[9])
        #expect(first === again)
        // An evicted user reopens with their data intact.
        let reopened = try manager.database(for: dids[0])
        #expect(try await reopened.conversations(page: PageRequest()).totalItems == 1)
        #expect(manager.openCount == 4)
        manager.closeIdle(olderThan: .zero)
        #expect(manager.openCount == 0)
    }

    @Test func usersNeverSeeEachOthersContent() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manager = try UserDatabaseManager(dataDirectory: directory)
        let alice = SigningIdentity().did, bob = SigningIdentity().did
        let imported = try await manager.create(for: alice).importConversation(conversation("secret", ["alpha bravo"]), at: Date())
        let bobs = try manager.create(for: bob)
        #expect(try await bobs.conversation(imported.id) == nil)
        #expect(try await bobs.search("alpha", page: PageRequest()).totalItems == 0)
        #expect(try await manager.database(for: alice).search("alpha", page: PageRequest()).totalItems == 1)
        #expect(manager.path(for: alice) != manager.path(for: bob))
    }

    @Test func importStoresMessagesACUsCountsAndSearchFindsThem() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try UserDatabaseManager(dataDirectory: directory).create(for: SigningIdentity().did)
        let input = ConversationInput(provider: "claude", sourceURL: "https://example.org/c/1", title: "Kademlia", model: "opus", createdAt: nil,
                                      tags: ["p2p"], messages: [
            MessageInput(role: .user, parts: [.text("How does Kademlia route lookups?")]),
            MessageInput(role: .assistant, parts: [.text("It uses XOR distance.\n\n```go\nfunc xor() {}\n```"), .toolCall(name: "lookup", arguments: "{}")]),
        ])
        let imported = try await database.importConversation(input, at: Date())
        #expect(imported.counts.messageCount == 2 && imported.counts.codeBlockCount == 1 && imported.counts.toolCallCount == 1)
        let record = try #require(try await database.conversation(imported.id))
        #expect(record.title == "Kademlia" && record.tags == ["p2p"] && record.sourceURL == "https://example.org/c/1")
        let messages = try await database.messages(of: imported.id)
        #expect(messages.map(\.role) == [.user, .assistant])
        #expect(messages[1].parts == input.messages[1].parts)
        let acus = try await database.acus(of: imported.id, page: PageRequest())
        #expect(acus.items.map(\.type) == [.paragraph, .paragraph, .code, .toolCall])
        #expect(acus.items[2].language == "go")

        let hits = try await database.search("xor", page: PageRequest())
        #expect(hits.items.map(\.conversationID) == [imported.id])
        #expect(hits.items[0].snippet.contains("[XOR]"))
        // FTS syntax in the query is taken literally, never as an operator.
        for hostile in ["\"unbalanced", "NEAR(", "a OR", "*", "col:xor", "-xor", "'; DROP TABLE messages; --"] {
            _ = try await database.search(hostile, page: PageRequest())
        }
        #expect(try await database.search("routes", page: PageRequest()).totalItems == 0)
        #expect(try await database.search("route", page: PageRequest()).totalItems == 1)
        #expect(try await database.deleteConversation(imported.id))
        #expect(try await database.search("xor", page: PageRequest()).totalItems == 0)
        #expect(try await database.acus(of: imported.id, page: PageRequest()).totalItems == 0)
    }

    @Test func deletionRemovesTheFiles() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manager = try UserDatabaseManager(dataDirectory: directory)
        let did = SigningIdentity().did
        _ = try await manager.create(for: did).importConversation(conversation("t", ["x"]), at: Date())
        try manager.delete(for: did)
        for suffix in ["", "-wal", "-shm"] { #expect(!FileManager.default.fileExists(atPath: manager.path(for: did) + suffix)) }
        #expect(throws: VivimError.self) { try manager.database(for: did) }
    }

    @Test func concurrentOpensOfOneUserShareAHandle() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manager = try UserDatabaseManager(dataDirectory: directory, capacity: 8)
        let did = SigningIdentity().did
        try manager.create(for: did)
        manager.closeAll()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<16 {
                group.addTask { _ = try await manager.database(for: did).importConversation(self.conversation("c\(index)", ["m"]), at: Date()) }
            }
            try await group.waitForAll()
        }
        #expect(manager.openCount == 1)
        #expect(try await manager.database(for: did).conversations(page: PageRequest(pageSize: 100)).totalItems == 16)
    }
}
