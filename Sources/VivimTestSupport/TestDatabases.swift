import Foundation
import Logging
import PostgresNIO
import VivimStore

/// Real databases for tests: a fresh PostgreSQL database per test on the server that
/// `scripts/test.sh` starts, or a fresh embedded store in a temporary directory.
public enum TestDatabases {
    public enum Failure: Error, CustomStringConvertible {
        case noPostgres
        public var description: String {
            "VIVIM_TEST_POSTGRES_URL is not set: run the suite with scripts/test.sh, which starts a PostgreSQL server"
        }
    }

    /// The server URL that `scripts/test.sh` exports. PostgreSQL tests fail without it; they never skip.
    public static func postgresServerURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["VIVIM_TEST_POSTGRES_URL"], !url.isEmpty else { throw Failure.noPostgres }
        return url
    }

    /// Creates an empty database and returns its URL.
    public static func freshPostgresDatabase() async throws -> String {
        let serverURL = try postgresServerURL()
        let name = "vivim_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let client = PostgresClient(configuration: try PostgresMasterStore.configuration(url: serverURL),
                                    backgroundLogger: Logger(label: "vivim.test.admin"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            group.cancelAll()
        }
        var components = URLComponents(string: serverURL)!
        components.path = "/" + name
        return components.string!
    }

    public static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "vivim-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs `body` with a migrated PostgreSQL master store on a fresh database.
    public static func withPostgresStore<T: Sendable>(_ body: @Sendable (PostgresMasterStore) async throws -> T) async throws -> T {
        let store = try PostgresMasterStore(url: try await freshPostgresDatabase())
        return try await closing(store) {
            try await store.migrate()
            return try await body(store)
        }
    }

    /// Runs `body`, then shuts the store's pool down whatever happened.
    public static func closing<T: Sendable>(_ store: PostgresMasterStore, _ body: @Sendable () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await store.shutdown()
            return result
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// Runs `body` with a migrated embedded store in a temporary directory.
    public static func withSQLiteStore<T: Sendable>(_ body: @Sendable (SQLiteMasterStore) async throws -> T) async throws -> T {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteMasterStore(path: directory + "/master.sqlite")
        try await store.migrate()
        return try await body(store)
    }
}
