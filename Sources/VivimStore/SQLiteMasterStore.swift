import Foundation
import GRDB
import VivimCore

/// The embedded master store: one SQLite file in the data directory, for running
/// `vivim serve` with no configuration. Same contract as `PostgresMasterStore`.
public final class SQLiteMasterStore: MasterStore {
    let pool: DatabasePool
    public var backendName: String { "sqlite" }

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(10)
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        FileCreation.touch(path, mode: 0o600)
        pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB's WAL set-up leaves the writer at NORMAL; acknowledged writes must survive power loss.
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL).
    public func synchronousSetting() async throws -> Int {
        try await pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 }
    }

    public func migrate() async throws {
        try SQLiteMasterSchema.migrator.migrate(pool)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Users and devices

    public func createUser(_ user: User, device: Device) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO users (did, display_name, encryption_alg, encryption_key, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [user.did.description, user.displayName, user.encryptionKey.algorithm.rawValue,
                                 Data(user.encryptionKey.key), user.createdAt, user.updatedAt])
            try Self.upsertDevice(device, db)
        }
    }

    public func user(_ did: DID) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE did = ?", arguments: [did.description]).map(Self.user)
        }
    }

    public func updateEncryptionKey(of did: DID, to key: EncryptionKey, at date: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE users SET encryption_alg = ?, encryption_key = ?, updated_at = ? WHERE did = ?",
                           arguments: [key.algorithm.rawValue, Data(key.key), date, did.description])
            guard db.changesCount == 1 else { throw VivimError.notFound("user not found") }
        }
    }

    public func updateDisplayName(of did: DID, to name: String?, at date: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE users SET display_name = ?, updated_at = ? WHERE did = ?",
                           arguments: [name, date, did.description])
        }
    }

    public func deleteUser(_ did: DID) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM auth_challenges WHERE did = ?", arguments: [did.description])
            try db.execute(sql: "DELETE FROM users WHERE did = ?", arguments: [did.description])
        }
    }

    public func upsertDevice(_ device: Device) async throws {
        try await write { db in try Self.upsertDevice(device, db) }
    }

    static func upsertDevice(_ device: Device, _ db: GRDB.Database) throws {
        try db.execute(sql: """
            INSERT INTO devices (did, device_id, name, created_at, last_active_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (did, device_id) DO UPDATE SET
              name = COALESCE(excluded.name, devices.name), last_active_at = excluded.last_active_at
            """, arguments: [device.did.description, device.deviceID.rawValue, device.name, device.createdAt, device.lastActiveAt])
    }

    public func devices(of did: DID) async throws -> [Device] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM devices WHERE did = ? ORDER BY created_at, device_id",
                             arguments: [did.description]).map(Self.device)
        }
    }

    public func deleteDevice(_ deviceID: DeviceID, of did: DID) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM devices WHERE did = ? AND device_id = ?", arguments: [did.description, deviceID.rawValue])
            return db.changesCount == 1
        }
    }

    // MARK: Challenges and sessions

    public func storeChallenge(_ challenge: String, for did: DID, expiresAt: Date) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM auth_challenges WHERE expires_at < ?", arguments: [Date()])
            try db.execute(sql: "INSERT INTO auth_challenges (challenge, did, expires_at) VALUES (?, ?, ?)",
                           arguments: [challenge, did.description, expiresAt])
        }
    }

    public func consumeChallenge(_ challenge: String, for did: DID, now: Date) async throws -> Bool {
        try await write { db in
            let row = try Row.fetchOne(db, sql: "DELETE FROM auth_challenges WHERE challenge = ? RETURNING did, expires_at",
                                       arguments: [challenge])
            guard let row else { return false }
            let owner: String = row["did"]
            let expiresAt: Date = row["expires_at"]
            return owner == did.description && now < expiresAt
        }
    }

    public func createSession(_ session: Session) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO sessions (id, did, device_id, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [session.id.rawValue, session.did.description, session.deviceID?.rawValue,
                                       session.createdAt, session.expiresAt, session.revokedAt])
        }
    }

    public func session(_ id: SessionID) async throws -> Session? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id.rawValue]).map(Self.session)
        }
    }

    public func activeSessions(of did: DID, now: Date) async throws -> [Session] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM sessions WHERE did = ? AND revoked_at IS NULL AND expires_at > ?
                ORDER BY created_at DESC, id
                """, arguments: [did.description, now]).map(Self.session)
        }
    }

    public func revokeSession(_ id: SessionID, of did: DID, at date: Date) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE sessions SET revoked_at = ? WHERE id = ? AND did = ? AND revoked_at IS NULL",
                           arguments: [date, id.rawValue, did.description])
            return db.changesCount == 1
        }
    }

    public func revokeSessions(of deviceID: DeviceID, of did: DID, at date: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE sessions SET revoked_at = ? WHERE did = ? AND device_id = ? AND revoked_at IS NULL",
                           arguments: [date, did.description, deviceID.rawValue])
        }
    }

    public func serverSigningKey(candidate: ServerSigningKey) async throws -> ServerSigningKey {
        try await write { db in
            try db.execute(sql: "INSERT INTO server_keys (kid, seed, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           arguments: [candidate.kid, Data(candidate.seed), candidate.createdAt])
            let row = try Row.fetchOne(db, sql: "SELECT * FROM server_keys ORDER BY created_at, kid LIMIT 1")!
            return ServerSigningKey(kid: row["kid"], seed: Array(row["seed"] as Data), createdAt: row["created_at"])
        }
    }

    // MARK: Circles

    public func createCircle(_ circle: Circle, owner: CircleMember) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO circles (id, name, description, icon, owner_did, is_private, default_permissions, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [circle.id.rawValue, circle.name, circle.description, circle.icon, circle.ownerDid.description,
                                 circle.isPrivate, try StoreJSON.encode(circle.defaultPermissions), circle.createdAt, circle.updatedAt])
            try Self.insertMember(owner, db)
        }
    }

    public func circle(_ id: CircleID) async throws -> Circle? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM circles WHERE id = ?", arguments: [id.rawValue]).map(Self.circle)
        }
    }

    public func updateCircle(_ circle: Circle) async throws {
        try await write { db in
            try db.execute(sql: """
                UPDATE circles SET name = ?, description = ?, icon = ?, is_private = ?, default_permissions = ?, updated_at = ?
                WHERE id = ?
                """, arguments: [circle.name, circle.description, circle.icon, circle.isPrivate,
                                 try StoreJSON.encode(circle.defaultPermissions), circle.updatedAt, circle.id.rawValue])
            guard db.changesCount == 1 else { throw VivimError.notFound("circle not found") }
        }
    }

    public func deleteCircle(_ id: CircleID) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM circles WHERE id = ?", arguments: [id.rawValue])
        }
    }

    public func circles(of did: DID, relation: CircleRelation, page: PageRequest) async throws -> Page<CircleSummary> {
        let roleFilter = switch relation {
        case .owned: "AND m.role = 'owner'"
        case .member: "AND m.role <> 'owner'"
        case .all: ""
        }
        return try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM circle_members m WHERE m.member_did = ? \(roleFilter)",
                                         arguments: [did.description]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.*, m.member_did, m.role, m.can_invite, m.can_share, m.joined_at,
                       (SELECT COUNT(*) FROM circle_members x WHERE x.circle_id = c.id) AS member_count
                FROM circle_members m JOIN circles c ON c.id = m.circle_id
                WHERE m.member_did = ? \(roleFilter)
                ORDER BY c.created_at DESC, c.id LIMIT ? OFFSET ?
                """, arguments: [did.description, page.pageSize, page.offset])
            let items = try rows.map { row in
                CircleSummary(circle: try Self.circle(row), membership: try Self.member(row, circleColumn: "id"),
                              memberCount: row["member_count"])
            }
            return Page(items: items, totalItems: total, request: page)
        }
    }

    public func member(_ did: DID, of circle: CircleID) async throws -> CircleMember? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM circle_members WHERE circle_id = ? AND member_did = ?",
                             arguments: [circle.rawValue, did.description]).map { try Self.member($0) }
        }
    }

    public func members(of circle: CircleID, page: PageRequest) async throws -> Page<CircleMember> {
        try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM circle_members WHERE circle_id = ?", arguments: [circle.rawValue]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM circle_members WHERE circle_id = ?
                ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, joined_at, member_did
                LIMIT ? OFFSET ?
                """, arguments: [circle.rawValue, page.pageSize, page.offset])
            return Page(items: try rows.map { try Self.member($0) }, totalItems: total, request: page)
        }
    }

    public func memberCount(of circle: CircleID) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM circle_members WHERE circle_id = ?", arguments: [circle.rawValue]) ?? 0
        }
    }

    public func addMember(_ member: CircleMember) async throws {
        try await write { db in try Self.insertMember(member, db) }
    }

    static func insertMember(_ member: CircleMember, _ db: GRDB.Database) throws {
        try db.execute(sql: """
            INSERT INTO circle_members (circle_id, member_did, role, can_invite, can_share, joined_at) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [member.circleID.rawValue, member.did.description, member.role.rawValue,
                             member.canInvite, member.canShare, member.joinedAt])
    }

    public func updateMember(_ member: CircleMember) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE circle_members SET role = ?, can_invite = ?, can_share = ? WHERE circle_id = ? AND member_did = ?",
                           arguments: [member.role.rawValue, member.canInvite, member.canShare, member.circleID.rawValue, member.did.description])
            guard db.changesCount == 1 else { throw VivimError.notFound("member not found") }
        }
    }

    public func removeMember(_ did: DID, from circle: CircleID) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM circle_members WHERE circle_id = ? AND member_did = ?",
                           arguments: [circle.rawValue, did.description])
            return db.changesCount == 1
        }
    }

    // MARK: Audit

    public func appendAudit(_ event: AuditEvent) async throws -> AuditEntry {
        try await write { db in
            let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            let entry = AuditEntry.chained(event, after: last.map { ($0["seq"], $0["hash"]) })
            try db.execute(sql: """
                INSERT INTO audit_log (seq, ts_ms, event_type, actor_did, subject, success, details, client_address, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [entry.sequence, Int64((event.timestamp.timeIntervalSince1970 * 1000).rounded()), event.type.rawValue,
                                 event.actorDid, event.subject, event.success, entry.detailsJSON, event.clientAddress,
                                 entry.previousHash, entry.hash])
            return entry
        }
    }

    public func auditEntries(after sequence: Int64, limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [sequence, limit])
                .map { row in
                    let event = AuditEvent(
                        type: AuditEventType(rawValue: row["event_type"]) ?? .authFailure, actorDid: row["actor_did"],
                        subject: row["subject"], success: row["success"], details: AuditEntry.decodeDetails(row["details"]),
                        clientAddress: row["client_address"], timestamp: Date(timeIntervalSince1970: Double(row["ts_ms"] as Int64) / 1000))
                    return AuditEntry(sequence: row["seq"], event: event, previousHash: row["prev_hash"], hash: row["hash"])
                }
        }
    }

    // MARK: Row mapping

    /// Runs a write and turns SQLite constraint violations into domain errors.
    func write<T: Sendable>(_ body: @Sendable @escaping (GRDB.Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            switch error.extendedResultCode {
            case .SQLITE_CONSTRAINT_FOREIGNKEY: throw VivimError.notFound("a referenced record does not exist")
            default: throw VivimError.conflict("already exists")
            }
        }
    }

    static func user(_ row: Row) throws -> User {
        User(did: try DID(parsing: row["did"]), displayName: row["display_name"],
             encryptionKey: EncryptionKey(algorithm: EncryptionKeyAlgorithm(rawValue: row["encryption_alg"]) ?? .xWing,
                                          key: Array(row["encryption_key"] as Data)),
             createdAt: row["created_at"], updatedAt: row["updated_at"])
    }

    static func device(_ row: Row) throws -> Device {
        Device(did: try DID(parsing: row["did"]), deviceID: DeviceID(trusted: row["device_id"]), name: row["name"],
               createdAt: row["created_at"], lastActiveAt: row["last_active_at"])
    }

    static func session(_ row: Row) throws -> Session {
        Session(id: SessionID(trusted: row["id"]), did: try DID(parsing: row["did"]),
                deviceID: (row["device_id"] as String?).map(DeviceID.init(trusted:)),
                createdAt: row["created_at"], expiresAt: row["expires_at"], revokedAt: row["revoked_at"])
    }

    static func circle(_ row: Row) throws -> Circle {
        Circle(id: CircleID(trusted: row["id"]), name: row["name"], description: row["description"], icon: row["icon"],
               ownerDid: try DID(parsing: row["owner_did"]), isPrivate: row["is_private"],
               defaultPermissions: try StoreJSON.decode(Permissions.self, row["default_permissions"]),
               createdAt: row["created_at"], updatedAt: row["updated_at"])
    }

    static func member(_ row: Row, circleColumn: String = "circle_id") throws -> CircleMember {
        CircleMember(circleID: CircleID(trusted: row[circleColumn]), did: try DID(parsing: row["member_did"]),
                     role: CircleRole(rawValue: row["role"]) ?? .member, canInvite: row["can_invite"],
                     canShare: row["can_share"], joinedAt: row["joined_at"])
    }
}

/// JSON columns, encoded with sorted keys so equal values store equal text.
enum StoreJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// Creates an empty file with the given mode if it does not exist, so the database file
/// never exists with a wider mode than intended.
enum FileCreation {
    static func touch(_ path: String, mode: mode_t) {
        let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, mode)
        if descriptor >= 0 { close(descriptor) }
    }
}
