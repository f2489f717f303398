import Foundation
import VivimCore

/// A page request; `page` counts from 1.
public struct PageRequest: Sendable, Equatable {
    public var page: Int
    public var pageSize: Int
    public static let maximumPageSize = 100

    public init(page: Int = 1, pageSize: Int = 20) {
        self.page = max(1, page)
        self.pageSize = min(max(1, pageSize), Self.maximumPageSize)
    }

    public var offset: Int { (page - 1) * pageSize }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var totalItems: Int
    public var request: PageRequest

    public init(items: [Item], totalItems: Int, request: PageRequest) {
        self.items = items
        self.totalItems = totalItems
        self.request = request
    }

    public var totalPages: Int { totalItems == 0 ? 0 : (totalItems + request.pageSize - 1) / request.pageSize }
    public var hasMore: Bool { request.page < totalPages }
    public func map<T>(_ transform: (Item) throws -> T) rethrows -> Page<T> {
        Page<T>(items: try items.map(transform), totalItems: totalItems, request: request)
    }
}

/// Which circles a listing returns, relative to the caller.
public enum CircleRelation: String, Sendable, CaseIterable {
    /// Circles the caller owns.
    case owned
    /// Circles the caller belongs to without owning them.
    case member
    /// Both.
    case all
}

/// A circle with the caller's membership and the member count, for listings.
public struct CircleSummary: Sendable, Equatable {
    public var circle: Circle
    public var membership: CircleMember
    public var memberCount: Int

    public init(circle: Circle, membership: CircleMember, memberCount: Int) {
        self.circle = circle
        self.membership = membership
        self.memberCount = memberCount
    }
}

/// The server's token-signing key, shared by every instance on one master database.
public struct ServerSigningKey: Sendable, Equatable {
    public var kid: String
    public var seed: [UInt8]
    public var createdAt: Date
    public init(kid: String, seed: [UInt8], createdAt: Date) {
        self.kid = kid
        self.seed = seed
        self.createdAt = createdAt
    }
}

/// Identity and everything that crosses users (SPEC §2.1). Two implementations share
/// one conformance test suite: `PostgresMasterStore` for production and
/// `SQLiteMasterStore`, the embedded no-configuration default.
///
/// Everything that several server instances must agree on lives here, never in one
/// process's memory: single-use challenges, sessions, the token key, the audit chain.
public protocol MasterStore: SharingStore {
    /// Applies pending migrations. Safe to call from several instances at once.
    func migrate() async throws
    /// Fails when the database cannot answer (readiness).
    func ping() async throws
    /// A short name for logs: `postgresql` or `sqlite`.
    var backendName: String { get }

    // MARK: Users and devices

    /// Creates the user and their first device; `conflict` if the DID is registered.
    func createUser(_ user: User, device: Device) async throws
    func user(_ did: DID) async throws -> User?
    func updateEncryptionKey(of did: DID, to key: EncryptionKey, at date: Date) async throws
    func updateDisplayName(of did: DID, to name: String?, at date: Date) async throws
    /// Deletes the user's rows: devices, sessions, challenges, memberships, circles they own.
    func deleteUser(_ did: DID) async throws
    /// Adds the device or refreshes its name and last-active time.
    func upsertDevice(_ device: Device) async throws
    func devices(of did: DID) async throws -> [Device]
    func deleteDevice(_ deviceID: DeviceID, of did: DID) async throws -> Bool

    // MARK: Login challenges and sessions

    func storeChallenge(_ challenge: String, for did: DID, expiresAt: Date) async throws
    /// Removes the challenge and tells whether it existed, belonged to `did` and was
    /// unexpired at `now`. Atomic: of two concurrent calls at most one returns true.
    func consumeChallenge(_ challenge: String, for did: DID, now: Date) async throws -> Bool
    func createSession(_ session: Session) async throws
    func session(_ id: SessionID) async throws -> Session?
    /// The user's sessions that are neither revoked nor expired at `now`, newest first.
    func activeSessions(of did: DID, now: Date) async throws -> [Session]
    /// Marks the session revoked; false if it is not the user's or already revoked.
    func revokeSession(_ id: SessionID, of did: DID, at date: Date) async throws -> Bool
    /// Revokes every session of one device (device removal).
    func revokeSessions(of deviceID: DeviceID, of did: DID, at date: Date) async throws

    /// Returns the stored signing key, storing `candidate` first if there is none.
    func serverSigningKey(candidate: ServerSigningKey) async throws -> ServerSigningKey

    // MARK: Circles

    /// Creates the circle with its owner as first member.
    func createCircle(_ circle: Circle, owner: CircleMember) async throws
    func circle(_ id: CircleID) async throws -> Circle?
    func updateCircle(_ circle: Circle) async throws
    func deleteCircle(_ id: CircleID) async throws
    func circles(of did: DID, relation: CircleRelation, page: PageRequest) async throws -> Page<CircleSummary>
    func member(_ did: DID, of circle: CircleID) async throws -> CircleMember?
    func members(of circle: CircleID, page: PageRequest) async throws -> Page<CircleMember>
    func memberCount(of circle: CircleID) async throws -> Int
    /// Adds a member; `conflict` if already a member.
    func addMember(_ member: CircleMember) async throws
    func updateMember(_ member: CircleMember) async throws
    func removeMember(_ did: DID, from circle: CircleID) async throws -> Bool

    // MARK: Audit log

    /// Appends to the hash chain; appends are serialized across instances.
    func appendAudit(_ event: AuditEvent) async throws -> AuditEntry
    /// Entries with sequence numbers greater than `sequence`, in order.
    func auditEntries(after sequence: Int64, limit: Int) async throws -> [AuditEntry]
}

extension MasterStore {
    /// Verifies the whole audit chain, reading it in batches.
    public func verifyAuditChain(batchSize: Int = 1_000) async throws -> AuditVerification {
        var verifier = AuditChainVerifier()
        var last: Int64 = 0
        while true {
            let batch = try await auditEntries(after: last, limit: batchSize)
            for entry in batch {
                if let failure = verifier.check(entry) { return failure }
            }
            guard let tail = batch.last else { break }
            last = tail.sequence
        }
        return .valid(entries: verifier.count)
    }
}
