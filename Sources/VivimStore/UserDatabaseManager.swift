import Foundation
import GRDB
import Synchronization
import VivimCore
import VivimCrypto

/// Hands out each user's own SQLite database (SPEC §2.2).
///
/// Files live at `<data-dir>/users/<2 hex>/<2 hex>/<sha256(did) hex>.sqlite`: the name is a
/// hash of an already-parsed `DID`, so nothing a user typed ever reaches a path.
/// Directories are 0700, files 0600, WAL journal. Open handles are kept in a bounded
/// LRU cache (default 256); evicted or idle handles close once their last user is done.
public final class UserDatabaseManager: Sendable {
    public let root: String
    public let capacity: Int
    let synchronous: String

    struct Entry {
        var database: UserDatabase
        var lastUsed: UInt64
        var lastUsedAt: ContinuousClock.Instant
    }

    struct State {
        var entries: [DID: Entry] = [:]
        var tick: UInt64 = 0
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - dataDirectory: the server's data directory; user files go under `users/`.
    ///   - capacity: how many handles stay open at most.
    ///   - durable: `synchronous = FULL` (an acknowledged write survives power loss) when
    ///     true, `NORMAL` (survives a process crash) otherwise.
    public init(dataDirectory: String, capacity: Int = 256, durable: Bool = true) throws {
        precondition(capacity > 0)
        self.root = (dataDirectory as NSString).appendingPathComponent("users")
        self.capacity = capacity
        self.synchronous = durable ? "FULL" : "NORMAL"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(root, 0o700)
    }

    /// The file of a user; pure function of the DID.
    public func path(for did: DID) -> String {
        let hex = Hashing.sha256Hex(did.description)
        let first = hex.prefix(2), second = hex.dropFirst(2).prefix(2)
        return "\(root)/\(first)/\(second)/\(hex).sqlite"
    }

    public func exists(for did: DID) -> Bool { FileManager.default.fileExists(atPath: path(for: did)) }

    /// Creates (or opens) the user's database; used at registration.
    @discardableResult
    public func create(for did: DID) throws -> UserDatabase {
        try handle(for: did, create: true)
    }

    /// Opens the existing database of a user, or reuses the open handle.
    /// Throws `notFound` if the user has no database.
    public func database(for did: DID) throws -> UserDatabase {
        try handle(for: did, create: false)
    }

    /// Closes and removes the user's database files (account deletion).
    public func delete(for did: DID) throws {
        let entry = state.withLock { $0.entries.removeValue(forKey: did) }
        try entry?.database.close()
        let path = path(for: did)
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.removeItem(atPath: path + suffix)
        }
    }

    /// Whether the user's handle is in the cache (does not touch its recency).
    public func isOpen(_ did: DID) -> Bool {
        state.withLock { $0.entries[did] != nil }
    }

    /// Number of open handles (bounded by `capacity`).
    public var openCount: Int { state.withLock { $0.entries.count } }

    /// Drops handles unused for longer than `idle`.
    public func closeIdle(olderThan idle: Duration) {
        let now = ContinuousClock.now
        let closed: [UserDatabase] = state.withLock { state in
            let stale = state.entries.filter { now - $0.value.lastUsedAt > idle }
            for key in stale.keys { state.entries.removeValue(forKey: key) }
            return stale.values.map(\.database)
        }
        for database in closed { try? database.close() }
    }

    /// Closes every handle (shutdown).
    public func closeAll() {
        let all = state.withLock { state in
            defer { state.entries.removeAll() }
            return state.entries.values.map(\.database)
        }
        for database in all { try? database.close() }
    }

    private func handle(for did: DID, create: Bool) throws -> UserDatabase {
        let key = did
        if let cached = lookup(key) { return cached }
        let path = path(for: did)
        if !FileManager.default.fileExists(atPath: path) {
            guard create else { throw VivimError.notFound("no database for this user") }
            let directory = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            chmod((directory as NSString).deletingLastPathComponent, 0o700)
            chmod(directory, 0o700)
            FileCreation.touch(path, mode: 0o600)
        }
        let opened = try UserDatabase(path: path, synchronous: synchronous)
        // Another task may have opened the same file meanwhile; keep one handle.
        let (database, evicted) = state.withLock { state -> (UserDatabase, UserDatabase?) in
            state.tick += 1
            if var existing = state.entries[key] {
                existing.lastUsed = state.tick
                existing.lastUsedAt = .now
                state.entries[key] = existing
                return (existing.database, opened)
            }
            var evicted: UserDatabase?
            if state.entries.count >= capacity,
               let oldest = state.entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                evicted = state.entries.removeValue(forKey: oldest.key)?.database
            }
            state.entries[key] = Entry(database: opened, lastUsed: state.tick, lastUsedAt: .now)
            return (opened, evicted)
        }
        // An evicted handle closes when its last in-flight user releases it.
        _ = evicted
        return database
    }

    private func lookup(_ key: DID) -> UserDatabase? {
        state.withLock { state in
            guard var entry = state.entries[key] else { return nil }
            state.tick += 1
            entry.lastUsed = state.tick
            entry.lastUsedAt = .now
            state.entries[key] = entry
            return entry.database
        }
    }
}
