import Foundation
import GRDB
import Testing
import VivimClient
import VivimCore

enum ConversationAPI {
    static let sample: JSONValue = .object([
        "provider": .string("chatgpt"), "title": .string("Merkle trees"), "model": .string("gpt-4o"),
        "sourceUrl": .string("https://chat.example/c/1"), "createdAt": .string("2026-05-01T12:00:00.250Z"),
        "tags": .array([.string("crypto")]),
        "messages": .array([
            .object(["role": .string("user"), "content": .string("What is a Merkle tree?"), "createdAt": .string("2026-05-01T12:00:00Z")]),
            .object(["role": .string("assistant"), "content": .array([
                .object(["type": .string("text"), "text": .string("A hash tree.\n\n- leaves\n- nodes")]),
                .object(["type": .string("code"), "language": .string("Python"), "text": .string("h = sha256(a + b)")]),
                .object(["type": .string("image"), "url": .string("https://img.example/tree.png"), "alt": .string("tree")]),
                .object(["type": .string("tool_call"), "name": .string("search"), "arguments": .string("{\"q\":\"merkle\"}")]),
            ])]),
            .object(["role": .string("SYSTEM"), "content": .string("be brief")]),
        ]),
    ])

    static func importReadListAndSearch(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice")
            let imported = try await alice.client.send(.POST, "/api/v1/conversations", json: sample)
            #expect(imported.status == 201)
            let id = try #require(imported.data["id"]?.string)
            let counts = try #require(imported.data["counts"])
            #expect(counts["messageCount"]?.number == 3 && counts["codeBlockCount"]?.number == 1)
            #expect(counts["imageCount"]?.number == 1 && counts["toolCallCount"]?.number == 1)
            #expect(imported.data["messageIds"]?.array?.count == 3)

            let read = try await alice.client.send(.GET, "/api/v1/conversations/\(id)").data
            #expect(read["conversation"]?["title"]?.string == "Merkle trees")
            #expect(read["conversation"]?["privacyLevel"]?.string == "LOCAL")
            #expect(read["conversation"]?["createdAt"]?.string == "2026-05-01T12:00:00.250Z")
            let messages = read["messages"]?.array ?? []
            #expect(messages.map { $0["role"]?.string ?? "" } == ["user", "assistant", "system"])
            #expect(messages[1]["content"]?.array?.map { $0["type"]?.string ?? "" } == ["text", "code", "image", "tool_call"])
            #expect(messages[1]["content"]?.array?[1]["language"]?.string == "python")

            let acus = try await alice.client.send(.GET, "/api/v1/acus?conversationId=\(id)")
            #expect(acus.data.array?.map { $0["type"]?.string ?? "" } == ["paragraph", "paragraph", "list", "code", "image", "tool_call", "paragraph"])

            for index in 0..<3 {
                var copy = sample
                if case .object(var object) = copy { object["title"] = .string("Copy \(index)"); copy = .object(object) }
                try await alice.client.send(.POST, "/api/v1/conversations", json: copy)
            }
            let page = try await alice.client.send(.GET, "/api/v1/conversations?page=2&pageSize=3")
            #expect(page.data.array?.count == 1)
            #expect(page.meta?["pagination"]?["totalItems"]?.number == 4 && page.meta?["pagination"]?["hasMore"] == .bool(false))

            let hits = try await alice.client.send(.GET, "/api/v1/search?q=hash%20tree")
            #expect(hits.data.array?.count == 4)
            #expect(hits.data.array?.first?["snippet"]?.string?.contains("[hash]") == true)
            try await alice.client.send(.DELETE, "/api/v1/conversations/\(id)")
            await expectAPIError("NOT_FOUND") { try await alice.client.send(.GET, "/api/v1/conversations/\(id)") }
        }
    }

    /// No route lets one user read another's content, and the content lives only in the owner's file.
    static func usersAreIsolated(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
            let id = try #require(try await alice.client.send(.POST, "/api/v1/conversations", json: sample).data["id"]?.string)
            for path in ["/api/v1/conversations/\(id)", "/api/v1/acus?conversationId=\(id)"] {
                await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, path) }
            }
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.DELETE, "/api/v1/conversations/\(id)") }
            #expect(try await bob.client.send(.GET, "/api/v1/conversations").data.array?.isEmpty == true)
            #expect(try await bob.client.send(.GET, "/api/v1/search?q=merkle").data.array?.isEmpty == true)
            #expect(try await alice.client.send(.GET, "/api/v1/conversations/\(id)").status == 200)

            let users = harness.server.app.services.userDatabases
            let inAlice = try await DatabaseQueue(path: users.path(for: alice.did)).read {
                try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM conversations WHERE id = ?", arguments: [id])
            }
            let inBob = try await DatabaseQueue(path: users.path(for: bob.did)).read {
                try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM messages WHERE text LIKE '%Merkle%'")
            }
            #expect(inAlice == 1 && inBob == 0)
            // The master database holds no message text.
            if kind == .sqlite {
                let master = try String(contentsOfFile: harness.directory + "/master.sqlite", encoding: .isoLatin1)
                #expect(!master.contains("What is a Merkle tree?"))
            }
            // A path-like DID is refused before any path is built.
            let traversal = try await harness.raw(.GET, "/api/v1/users/did:vivim:..%2F..%2Fx", token: alice.token)
            Harness.expectError(traversal, status: 400, code: "VALIDATION_ERROR")
            let challenge = try await harness.raw(.POST, "/api/v1/auth/challenge", body: Array(#"{"did":"did:vivim:../../x"}"#.utf8))
            Harness.expectError(challenge, status: 400, code: "VALIDATION_ERROR")
            let entries = try FileManager.default.subpathsOfDirectory(atPath: harness.directory)
            #expect(!entries.contains { $0.contains("..") || $0.contains("x.sqlite") })
        }
    }
}

@Suite struct ConversationAPISQLiteTests {
    @Test func importReadListAndSearch() async throws { try await ConversationAPI.importReadListAndSearch(.sqlite) }
    @Test func usersAreIsolated() async throws { try await ConversationAPI.usersAreIsolated(.sqlite) }
}

@Suite struct ConversationAPIPostgreSQLTests {
    @Test func importReadListAndSearch() async throws { try await ConversationAPI.importReadListAndSearch(.postgresql) }
    @Test func usersAreIsolated() async throws { try await ConversationAPI.usersAreIsolated(.postgresql) }
}
