import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing
import VivimCore
import VivimStore
import VivimTestSupport

/// The audit log is append-only (triggers refuse UPDATE and DELETE) and an edit made
/// behind the triggers' back is caught by chain verification.
enum AuditTamper {
    static func appendThree(_ store: any MasterStore) async throws {
        for index in 1...3 {
            _ = try await store.appendAudit(AuditEvent(type: .authLogin, actorDid: "did:vivim:z6Mk\(index)", subject: "s\(index)", timestamp: Date()))
        }
        #expect(try await store.verifyAuditChain() == .valid(entries: 3))
    }
}

@Suite struct AuditTamperSQLiteTests {
    @Test func rewritingAnEntryIsDetected() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/master.sqlite"
        let store = try SQLiteMasterStore(path: path)
        try await store.migrate()
        try await AuditTamper.appendThree(store)

        let raw = try DatabaseQueue(path: path)
        await #expect(throws: (any Error).self) { try await raw.write { try $0.execute(sql: "UPDATE audit_log SET subject = 'x' WHERE seq = 2") } }
        await #expect(throws: (any Error).self) { try await raw.write { try $0.execute(sql: "DELETE FROM audit_log WHERE seq = 3") } }
        // An attacker with file access drops the trigger first.
        try await raw.write { db in
            try db.execute(sql: "DROP TRIGGER audit_log_no_update")
            try db.execute(sql: "UPDATE audit_log SET subject = 'forged' WHERE seq = 2")
        }
        #expect(try await store.verifyAuditChain() == .broken(sequence: 2, reason: "hash does not match contents"))
    }
}

@Suite struct AuditTamperPostgreSQLTests {
    @Test func rewritingAnEntryIsDetected() async throws {
        let url = try await TestDatabases.freshPostgresDatabase()
        let store = try PostgresMasterStore(url: url)
        try await TestDatabases.closing(store) {
            try await store.migrate()
            try await AuditTamper.appendThree(store)
            await #expect(throws: (any Error).self) { try await store.client.query("UPDATE audit_log SET subject = 'x' WHERE seq = 2") }
            await #expect(throws: (any Error).self) { try await store.client.query("DELETE FROM audit_log WHERE seq = 3") }
            try await store.client.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            try await store.client.query("DELETE FROM audit_log WHERE seq = 2")
            #expect(try await store.verifyAuditChain() == .broken(sequence: 3, reason: "expected sequence 2"))
        }
    }
}
