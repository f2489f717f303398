import Foundation
import NIOHTTP1
import Testing
import VivimClient
import VivimCore
import VivimCrypto

/// Every route answers malformed input with a 4xx error envelope; no 500, no crash.
enum BadInput {
    static func batchOfHostileRequests(_ kind: StoreKind) async throws {
        try await Harness.with(kind, configure: { $0.bodyLimit = 64 << 10 }) { harness in
            let alice = try await harness.newUser("alice")
            let token = alice.token
            let circle = try #require(try await alice.client.send(.POST, "/api/v1/circles", json: .object(["name": .string("c")])).data["id"]?.string)
            let did = alice.did.description
            let huge = Array(String(repeating: "a", count: 70 << 10).utf8)
            let bodies: [[UInt8]] = [
                Array("{".utf8), Array("not json".utf8), Array("[]".utf8), Array("null".utf8), Array("42".utf8),
                Array(#"{"did": 5}"#.utf8), Array(#"{"did": null}"#.utf8), Array(#"{"name": ["x"]}"#.utf8),
                Array(#"{"provider":"x","messages":[{"role":"wizard","content":"hi"}]}"#.utf8),
                Array(#"{"provider":"x","messages":[{"role":"user","content":{"nested":true}}]}"#.utf8),
                Array(#"{"provider":"x","messages":[]}"#.utf8),
                Array(#"{"provider":"x","createdAt":"yesterday","messages":[{"role":"user","content":"a"}]}"#.utf8),
                Array((String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)).utf8),
                [0xff, 0xfe, 0x00, 0x01], huge, [],
            ]
            let routes: [(HTTPMethod, String)] = [
                (.POST, "/api/v1/auth/register"), (.POST, "/api/v1/auth/challenge"), (.POST, "/api/v1/auth/verify"),
                (.POST, "/api/v1/circles"), (.PATCH, "/api/v1/circles/\(circle)"), (.POST, "/api/v1/circles/\(circle)/members"),
                (.PATCH, "/api/v1/circles/\(circle)/members/\(did)"), (.POST, "/api/v1/conversations"),
                (.PUT, "/api/v1/users/me/keys"), (.PATCH, "/api/v1/users/me"),
                (.POST, "/api/v1/sharing/intents"), (.PATCH, "/api/v1/sharing/intents/\(IntentID())"),
                (.POST, "/api/v1/sharing/links"), (.POST, "/api/v1/circles/\(circle)/shares"),
                (.PUT, "/api/v1/users/me/publishing-key"), (.PATCH, "/api/v1/conversations/\(ConversationID())"),
            ]
            var answered = 0
            for (method, path) in routes {
                for body in bodies {
                    let result = try await harness.raw(method, path, body: body, headers: [("Content-Type", "application/json")], token: token)
                    #expect((400..<500).contains(result.status), "\(method) \(path) → \(result.status) for \(body.prefix(40))")
                    #expect(result.json?["success"] == .bool(false))
                    answered += 1
                }
            }
            // Wrong ids, bad DIDs, bad query parameters.
            let getters = [
                "/api/v1/circles/not-a-uuid", "/api/v1/circles/\(circle)/members?page=0", "/api/v1/circles?pageSize=100000",
                "/api/v1/conversations/../../etc/passwd", "/api/v1/conversations/%00", "/api/v1/acus", "/api/v1/acus?conversationId=x",
                "/api/v1/search", "/api/v1/search?q=" + String(repeating: "q", count: 600), "/api/v1/users/did:web:x", "/api/v1/users/%F0%9F%98%80",
                "/api/v1/nothing-here", "/api/v1/conversations?page=abc",
                "/api/v1/sharing/intents/not-a-uuid", "/api/v1/sharing/intents?status=SLEEPING", "/api/v1/sharing/intents?sortBy=size",
                "/api/v1/sharing/intents?startDate=yesterday", "/api/v1/sharing/intents?sortOrder=up", "/api/v1/sharing/suggestions",
                "/api/v1/sharing/suggestions?contentId=x", "/api/v1/sharing/links/short", "/api/v1/sharing/links/" + String(repeating: "A", count: 300),
                "/api/v1/permissions/x/check", "/api/v1/permissions/\(ConversationID())/check?permission=fly",
                "/api/v1/permissions/\(ConversationID())/check?permission=view&userDid=did:web:x",
                "/api/v1/content/XYZ", "/api/v1/content/" + String(repeating: "g", count: 64), "/api/v1/content?contentType=poem",
                "/api/v1/content?audience=MARS", "/api/v1/content?ownerDid=nobody", "/api/v1/circles/x/keys",
                "/s/%00", "/s/assets/..%2F..%2Fetc%2Fpasswd", "/api/v1/sharing/intents/\(IntentID())",
            ]
            for path in getters {
                let result = try await harness.raw(.GET, path, token: token)
                #expect((400..<500).contains(result.status), "GET \(path) → \(result.status)")
                answered += 1
            }
            // Missing, malformed, forged, expired-looking and revoked tokens.
            let forged = token.dropLast(4) + "AAAA"
            let badTokens: [[(String, String)]] = [
                [], [("Authorization", "Bearer")], [("Authorization", "Basic abc")], [("Authorization", "Bearer \(forged)")],
                [("Authorization", "Bearer a.b.c")], [("Authorization", "Bearer " + String(repeating: "x", count: 5000))],
            ]
            for headers in badTokens {
                Harness.expectError(try await harness.raw(.GET, "/api/v1/users/me", headers: headers), status: 401, code: "UNAUTHORIZED")
                answered += 1
            }
            try await alice.client.send(.POST, "/api/v1/auth/logout")
            Harness.expectError(try await harness.raw(.GET, "/api/v1/conversations", token: token), status: 401, code: "UNAUTHORIZED")
            // Oversized bodies.
            Harness.expectError(try await harness.raw(.POST, "/api/v1/auth/challenge", body: huge), status: 413, code: "PAYLOAD_TOO_LARGE")
            // Request ids are echoed when well formed and replaced when not.
            let echoed = try await harness.raw(.GET, "/health", headers: [("X-Request-ID", "abc-123")])
            #expect(echoed.json?["meta"]?["requestId"]?.string == "abc-123")
            let replaced = try await harness.raw(.GET, "/health", headers: [("X-Request-ID", "<script>")])
            #expect(replaced.json?["meta"]?["requestId"]?.string != "<script>")

            #expect(answered > 150)
            let health = try await harness.raw(.GET, "/health")
            #expect(health.status == 200)
            let ready = try await harness.raw(.GET, "/ready")
            #expect(ready.status == 200)
            let metrics = try await harness.raw(.GET, "/metrics")
            #expect(metrics.status == 200)
            // No request produced a 500.
            let exposition = try await harness.anonymous.send(.GET, "/metrics").data.string ?? ""
            #expect(exposition.contains("vivim_http_requests_total"))
            #expect(!exposition.contains("status=\"500\""))
        }
    }
}

@Suite struct BadInputSQLiteTests {
    @Test func batchOfHostileRequests() async throws { try await BadInput.batchOfHostileRequests(.sqlite) }
}

@Suite struct BadInputPostgreSQLTests {
    @Test func batchOfHostileRequests() async throws { try await BadInput.batchOfHostileRequests(.postgresql) }
}
