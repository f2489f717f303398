import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization
import VivimCore

/// The production master store on PostgreSQL (postgres-nio's pooled `PostgresClient`).
///
/// The store owns its connection pool: `init` starts it (a `PostgresClient` may run only
/// once) and `shutdown()` stops it after the last query. The server calls `shutdown()`
/// when its service group shuts down gracefully.
public final class PostgresMasterStore: MasterStore {
    public let client: PostgresClient
    let logger: Logger
    private let pool: Mutex<Task<Void, Never>?>
    public var backendName: String { "postgresql" }

    public init(configuration: PostgresClient.Configuration, logger: Logger = Logger(label: "vivim.master.postgres")) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.pool = Mutex(Task { await client.run() })
    }

    /// Stops the connection pool; in-flight queries finish or fail first.
    public func shutdown() async {
        let task = pool.withLock { task in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
    }

    /// `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    public convenience init(url: String, logger: Logger = Logger(label: "vivim.master.postgres")) throws {
        self.init(configuration: try Self.configuration(url: url), logger: logger)
    }

    public static func configuration(url text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""),
              let host = url.host, !host.isEmpty
        else { throw VivimError.validation("master DB must be a postgres:// URL", field: "master-db") }
        let mode = url.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS = switch mode {
        case "require", "verify-full": .require(.makeClientConfiguration())
        case "prefer": .prefer(.makeClientConfiguration())
        default: .disable
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        var configuration = PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: url.user?.removingPercentEncoding ?? "postgres",
            password: url.password?.removingPercentEncoding, database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 20
        return configuration
    }

    public func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One migrator at a time across every instance sharing this database.
            try await connection.query("SELECT pg_advisory_xact_lock(7274846001)", logger: self.logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: self.logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: self.logger).decode(Int.self) {
                applied.insert(version)
            }
            for migration in PostgresMasterSchema.migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: self.logger)
            }
        }
    }

    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    // MARK: Users and devices

    public func createUser(_ user: User, device: Device) async throws {
        try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    INSERT INTO users (did, display_name, encryption_alg, encryption_key, created_at, updated_at)
                    VALUES (\(user.did.description), \(user.displayName), \(user.encryptionKey.algorithm.rawValue),
                            \(Data(user.encryptionKey.key)), \(user.createdAt), \(user.updatedAt))
                    """, logger: self.logger)
                try await connection.query(Self.upsertDeviceQuery(device), logger: self.logger)
            }
        }
    }

    public func user(_ did: DID) async throws -> User? {
        let rows = try await client.query("""
            SELECT did, display_name, encryption_alg, encryption_key, created_at, updated_at FROM users WHERE did = \(did.description)
            """, logger: logger)
        for try await (did, name, alg, key, created, updated) in rows.decode((String, String?, String, Data, Date, Date).self) {
            return User(did: try DID(parsing: did), displayName: name,
                        encryptionKey: EncryptionKey(algorithm: EncryptionKeyAlgorithm(rawValue: alg) ?? .xWing, key: Array(key)),
                        createdAt: created, updatedAt: updated)
        }
        return nil
    }

    public func updateEncryptionKey(of did: DID, to key: EncryptionKey, at date: Date) async throws {
        let rows = try await client.query("""
            UPDATE users SET encryption_alg = \(key.algorithm.rawValue), encryption_key = \(Data(key.key)), updated_at = \(date)
            WHERE did = \(did.description) RETURNING did
            """, logger: logger)
        guard try await rows.decode(String.self).first(where: { _ in true }) != nil else { throw VivimError.notFound("user not found") }
    }

    public func updateDisplayName(of did: DID, to name: String?, at date: Date) async throws {
        try await client.query("UPDATE users SET display_name = \(name), updated_at = \(date) WHERE did = \(did.description)", logger: logger)
    }

    public func deleteUser(_ did: DID) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("DELETE FROM auth_challenges WHERE did = \(did.description)", logger: self.logger)
            try await connection.query("DELETE FROM users WHERE did = \(did.description)", logger: self.logger)
        }
    }

    public func upsertDevice(_ device: Device) async throws {
        try await mapped { try await client.query(Self.upsertDeviceQuery(device), logger: logger) }
    }

    static func upsertDeviceQuery(_ device: Device) -> PostgresQuery {
        """
        INSERT INTO devices (did, device_id, name, created_at, last_active_at)
        VALUES (\(device.did.description), \(device.deviceID.rawValue), \(device.name), \(device.createdAt), \(device.lastActiveAt))
        ON CONFLICT (did, device_id) DO UPDATE SET
          name = COALESCE(EXCLUDED.name, devices.name), last_active_at = EXCLUDED.last_active_at
        """
    }

    public func devices(of did: DID) async throws -> [Device] {
        let rows = try await client.query("""
            SELECT did, device_id, name, created_at, last_active_at FROM devices WHERE did = \(did.description) ORDER BY created_at, device_id
            """, logger: logger)
        var devices: [Device] = []
        for try await (did, id, name, created, active) in rows.decode((String, String, String?, Date, Date).self) {
            devices.append(Device(did: try DID(parsing: did), deviceID: DeviceID(trusted: id), name: name, createdAt: created, lastActiveAt: active))
        }
        return devices
    }

    public func deleteDevice(_ deviceID: DeviceID, of did: DID) async throws -> Bool {
        try await returnsRow("DELETE FROM devices WHERE did = \(did.description) AND device_id = \(deviceID.rawValue) RETURNING 1")
    }

    // MARK: Challenges and sessions

    public func storeChallenge(_ challenge: String, for did: DID, expiresAt: Date) async throws {
        try await client.query("DELETE FROM auth_challenges WHERE expires_at < now()", logger: logger)
        try await mapped {
            try await client.query("""
                INSERT INTO auth_challenges (challenge, did, expires_at) VALUES (\(challenge), \(did.description), \(expiresAt))
                """, logger: logger)
        }
    }

    public func consumeChallenge(_ challenge: String, for did: DID, now: Date) async throws -> Bool {
        let rows = try await client.query("DELETE FROM auth_challenges WHERE challenge = \(challenge) RETURNING did, expires_at", logger: logger)
        for try await (owner, expiresAt) in rows.decode((String, Date).self) {
            return owner == did.description && now < expiresAt
        }
        return false
    }

    public func createSession(_ session: Session) async throws {
        try await mapped {
            try await client.query("""
                INSERT INTO sessions (id, did, device_id, created_at, expires_at, revoked_at)
                VALUES (\(session.id.rawValue), \(session.did.description), \(session.deviceID?.rawValue),
                        \(session.createdAt), \(session.expiresAt), \(session.revokedAt))
                """, logger: logger)
        }
    }

    public func session(_ id: SessionID) async throws -> Session? {
        try await sessions("SELECT id, did, device_id, created_at, expires_at, revoked_at FROM sessions WHERE id = \(id.rawValue)").first
    }

    public func activeSessions(of did: DID, now: Date) async throws -> [Session] {
        try await sessions("""
            SELECT id, did, device_id, created_at, expires_at, revoked_at FROM sessions
            WHERE did = \(did.description) AND revoked_at IS NULL AND expires_at > \(now) ORDER BY created_at DESC, id
            """)
    }

    func sessions(_ query: PostgresQuery) async throws -> [Session] {
        var sessions: [Session] = []
        for try await (id, did, device, created, expires, revoked) in try await client.query(query, logger: logger)
            .decode((String, String, String?, Date, Date, Date?).self) {
            sessions.append(Session(id: SessionID(trusted: id), did: try DID(parsing: did), deviceID: device.map(DeviceID.init(trusted:)),
                                    createdAt: created, expiresAt: expires, revokedAt: revoked))
        }
        return sessions
    }

    public func revokeSession(_ id: SessionID, of did: DID, at date: Date) async throws -> Bool {
        try await returnsRow("""
            UPDATE sessions SET revoked_at = \(date) WHERE id = \(id.rawValue) AND did = \(did.description) AND revoked_at IS NULL RETURNING 1
            """)
    }

    public func revokeSessions(of deviceID: DeviceID, of did: DID, at date: Date) async throws {
        try await client.query("""
            UPDATE sessions SET revoked_at = \(date) WHERE did = \(did.description) AND device_id = \(deviceID.rawValue) AND revoked_at IS NULL
            """, logger: logger)
    }

    public func serverSigningKey(candidate: ServerSigningKey) async throws -> ServerSigningKey {
        try await client.query("""
            INSERT INTO server_keys (kid, seed, created_at) VALUES (\(candidate.kid), \(Data(candidate.seed)), \(candidate.createdAt))
            ON CONFLICT DO NOTHING
            """, logger: logger)
        let rows = try await client.query("SELECT kid, seed, created_at FROM server_keys ORDER BY created_at, kid LIMIT 1", logger: logger)
        for try await (kid, seed, created) in rows.decode((String, Data, Date).self) {
            return ServerSigningKey(kid: kid, seed: Array(seed), createdAt: created)
        }
        throw VivimError(.internalError, "server key missing after insert")
    }

    // MARK: Circles

    static let circleColumns = "c.id, c.name, c.description, c.icon, c.owner_did, c.is_private, c.default_permissions, c.created_at, c.updated_at"
    typealias CircleRow = (String, String, String?, String?, String, Bool, String, Date, Date)

    static func circle(_ row: CircleRow) throws -> Circle {
        Circle(id: CircleID(trusted: row.0), name: row.1, description: row.2, icon: row.3, ownerDid: try DID(parsing: row.4),
               isPrivate: row.5, defaultPermissions: try StoreJSON.decode(Permissions.self, row.6), createdAt: row.7, updatedAt: row.8)
    }

    public func createCircle(_ circle: Circle, owner: CircleMember) async throws {
        let permissions = try StoreJSON.encode(circle.defaultPermissions)
        try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    INSERT INTO circles (id, name, description, icon, owner_did, is_private, default_permissions, created_at, updated_at)
                    VALUES (\(circle.id.rawValue), \(circle.name), \(circle.description), \(circle.icon), \(circle.ownerDid.description),
                            \(circle.isPrivate), \(permissions)::jsonb, \(circle.createdAt), \(circle.updatedAt))
                    """, logger: self.logger)
                try await connection.query(Self.insertMemberQuery(owner), logger: self.logger)
            }
        }
    }

    public func circle(_ id: CircleID) async throws -> Circle? {
        let rows = try await client.query("SELECT \(unescaped: Self.circleColumns) FROM circles c WHERE c.id = \(id.rawValue)", logger: logger)
        for try await row in rows.decode(CircleRow.self) { return try Self.circle(row) }
        return nil
    }

    public func updateCircle(_ circle: Circle) async throws {
        let permissions = try StoreJSON.encode(circle.defaultPermissions)
        guard try await returnsRow("""
            UPDATE circles SET name = \(circle.name), description = \(circle.description), icon = \(circle.icon),
              is_private = \(circle.isPrivate), default_permissions = \(permissions)::jsonb, updated_at = \(circle.updatedAt)
            WHERE id = \(circle.id.rawValue) RETURNING 1
            """) else { throw VivimError.notFound("circle not found") }
    }

    public func deleteCircle(_ id: CircleID) async throws {
        try await client.query("DELETE FROM circles WHERE id = \(id.rawValue)", logger: logger)
    }

    public func circles(of did: DID, relation: CircleRelation, page: PageRequest) async throws -> Page<CircleSummary> {
        let roleFilter = switch relation {
        case .owned: "AND m.role = 'owner'"
        case .member: "AND m.role <> 'owner'"
        case .all: ""
        }
        let total = try await count("SELECT COUNT(*) FROM circle_members m WHERE m.member_did = \(did.description) \(unescaped: roleFilter)")
        let rows = try await client.query("""
            SELECT \(unescaped: Self.circleColumns), m.member_did, m.role, m.can_invite, m.can_share, m.joined_at,
                   (SELECT COUNT(*) FROM circle_members x WHERE x.circle_id = c.id)
            FROM circle_members m JOIN circles c ON c.id = m.circle_id
            WHERE m.member_did = \(did.description) \(unescaped: roleFilter)
            ORDER BY c.created_at DESC, c.id LIMIT \(page.pageSize) OFFSET \(page.offset)
            """, logger: logger)
        var items: [CircleSummary] = []
        for try await row in rows {
            let random = row.makeRandomAccess()
            let circleRow = try (random[0].decode(String.self), random[1].decode(String.self), random[2].decode(String?.self),
                                 random[3].decode(String?.self), random[4].decode(String.self), random[5].decode(Bool.self),
                                 random[6].decode(String.self), random[7].decode(Date.self), random[8].decode(Date.self))
            let circle = try Self.circle(circleRow)
            let member = CircleMember(
                circleID: circle.id, did: try DID(parsing: try random[9].decode(String.self)),
                role: CircleRole(rawValue: try random[10].decode(String.self)) ?? .member,
                canInvite: try random[11].decode(Bool.self), canShare: try random[12].decode(Bool.self),
                joinedAt: try random[13].decode(Date.self))
            items.append(CircleSummary(circle: circle, membership: member, memberCount: try random[14].decode(Int.self)))
        }
        return Page(items: items, totalItems: total, request: page)
    }

    static let memberColumns = "circle_id, member_did, role, can_invite, can_share, joined_at"

    public func member(_ did: DID, of circle: CircleID) async throws -> CircleMember? {
        try await members("""
            SELECT \(unescaped: Self.memberColumns) FROM circle_members WHERE circle_id = \(circle.rawValue) AND member_did = \(did.description)
            """).first
    }

    public func members(of circle: CircleID, page: PageRequest) async throws -> Page<CircleMember> {
        let total = try await memberCount(of: circle)
        let items = try await members("""
            SELECT \(unescaped: Self.memberColumns) FROM circle_members WHERE circle_id = \(circle.rawValue)
            ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, joined_at, member_did
            LIMIT \(page.pageSize) OFFSET \(page.offset)
            """)
        return Page(items: items, totalItems: total, request: page)
    }

    func members(_ query: PostgresQuery) async throws -> [CircleMember] {
        var members: [CircleMember] = []
        for try await (circle, did, role, invite, share, joined) in try await client.query(query, logger: logger)
            .decode((String, String, String, Bool, Bool, Date).self) {
            members.append(CircleMember(circleID: CircleID(trusted: circle), did: try DID(parsing: did),
                                        role: CircleRole(rawValue: role) ?? .member, canInvite: invite, canShare: share, joinedAt: joined))
        }
        return members
    }

    public func memberCount(of circle: CircleID) async throws -> Int {
        try await count("SELECT COUNT(*) FROM circle_members WHERE circle_id = \(circle.rawValue)")
    }

    public func addMember(_ member: CircleMember) async throws {
        try await mapped { try await client.query(Self.insertMemberQuery(member), logger: logger) }
    }

    static func insertMemberQuery(_ member: CircleMember) -> PostgresQuery {
        """
        INSERT INTO circle_members (circle_id, member_did, role, can_invite, can_share, joined_at)
        VALUES (\(member.circleID.rawValue), \(member.did.description), \(member.role.rawValue), \(member.canInvite), \(member.canShare), \(member.joinedAt))
        """
    }

    public func updateMember(_ member: CircleMember) async throws {
        guard try await returnsRow("""
            UPDATE circle_members SET role = \(member.role.rawValue), can_invite = \(member.canInvite), can_share = \(member.canShare)
            WHERE circle_id = \(member.circleID.rawValue) AND member_did = \(member.did.description) RETURNING 1
            """) else { throw VivimError.notFound("member not found") }
    }

    public func removeMember(_ did: DID, from circle: CircleID) async throws -> Bool {
        try await returnsRow("DELETE FROM circle_members WHERE circle_id = \(circle.rawValue) AND member_did = \(did.description) RETURNING 1")
    }

    // MARK: Audit

    public func appendAudit(_ event: AuditEvent) async throws -> AuditEntry {
        try await client.withTransaction(logger: logger) { connection in
            // Serializes appends across instances; the chain never forks.
            try await connection.query("SELECT pg_advisory_xact_lock(7274846002)", logger: self.logger)
            var previous: (Int64, String)?
            for try await row in try await connection.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", logger: self.logger)
                .decode((Int64, String).self) {
                previous = row
            }
            let entry = AuditEntry.chained(event, after: previous)
            let milliseconds = Int64((event.timestamp.timeIntervalSince1970 * 1000).rounded())
            try await connection.query("""
                INSERT INTO audit_log (seq, ts_ms, event_type, actor_did, subject, success, details, client_address, prev_hash, hash)
                VALUES (\(entry.sequence), \(milliseconds), \(event.type.rawValue), \(event.actorDid), \(event.subject), \(event.success),
                        \(entry.detailsJSON)::jsonb, \(event.clientAddress), \(entry.previousHash), \(entry.hash))
                """, logger: self.logger)
            return entry
        }
    }

    public func auditEntries(after sequence: Int64, limit: Int) async throws -> [AuditEntry] {
        let rows = try await client.query("""
            SELECT seq, ts_ms, event_type, actor_did, subject, success, details::text, client_address, prev_hash, hash
            FROM audit_log WHERE seq > \(sequence) ORDER BY seq LIMIT \(limit)
            """, logger: logger)
        var entries: [AuditEntry] = []
        for try await (seq, ms, type, actor, subject, success, details, client, previous, hash) in rows
            .decode((Int64, Int64, String, String?, String?, Bool, String, String?, String, String).self) {
            let event = AuditEvent(type: AuditEventType(rawValue: type) ?? .authFailure, actorDid: actor, subject: subject, success: success,
                                   details: AuditEntry.decodeDetails(details), clientAddress: client,
                                   timestamp: Date(timeIntervalSince1970: Double(ms) / 1000))
            entries.append(AuditEntry(sequence: seq, event: event, previousHash: previous, hash: hash))
        }
        return entries
    }

    // MARK: Helpers

    func count(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await client.query(query, logger: logger).decode(Int.self) { return value }
        return 0
    }

    func returnsRow(_ query: PostgresQuery) async throws -> Bool {
        for try await _ in try await client.query(query, logger: logger) { return true }
        return false
    }

    /// Turns unique and foreign-key violations into domain errors.
    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            // Errors inside a transaction arrive wrapped.
            let cause = (error as? PostgresTransactionError)?.closureError ?? error
            switch (cause as? PSQLError)?.serverInfo?[.sqlState] {
            case "23505": throw VivimError.conflict("already exists")
            case "23503": throw VivimError.notFound("a referenced record does not exist")
            default: throw cause is VivimError ? cause : error
            }
        }
    }
}
