import VivimStore
import VivimTestSupport

/// Runs a conformance check on a fresh store of each kind.
enum TestDatabasesRun {
    static func sqlite(_ check: @Sendable (any MasterStore) async throws -> Void) async throws {
        try await TestDatabases.withSQLiteStore { try await check($0) }
    }
    static func postgres(_ check: @Sendable (any MasterStore) async throws -> Void) async throws {
        try await TestDatabases.withPostgresStore { try await check($0) }
    }
}
