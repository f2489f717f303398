import Foundation
import Testing
import VivimCore
import VivimCrypto
import VivimStore

/// The contract every `MasterStore` meets. Each check runs against the embedded SQLite
/// store and against a real PostgreSQL server (see the two suites below).
enum MasterStoreConformance {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func makeUser(_ store: any MasterStore, name: String = "user") async throws -> DID {
        let did = SigningIdentity().did
        let key = try EncryptionKeyPair.generate().publicKey
        try await store.createUser(User(did: did, displayName: name, encryptionKey: key, createdAt: now, updatedAt: now),
                                   device: Device(did: did, deviceID: DeviceID(trusted: "d1"), name: "laptop", createdAt: now, lastActiveAt: now))
        return did
    }

    static func usersAndDevices(_ store: any MasterStore) async throws {
        let did = try await makeUser(store, name: "Alice")
        let user = try #require(try await store.user(did))
        #expect(user.displayName == "Alice")
        #expect(user.encryptionKey.algorithm == .xWing)
        #expect(try await store.user(SigningIdentity().did) == nil)

        // Registering the same DID twice is a conflict.
        await #expect(throws: VivimError.conflict("already exists")) {
            try await store.createUser(user, device: Device(did: did, deviceID: DeviceID(trusted: "d2"), name: nil, createdAt: now, lastActiveAt: now))
        }
        try await store.upsertDevice(Device(did: did, deviceID: DeviceID(trusted: "d2"), name: "phone", createdAt: now, lastActiveAt: now))
        try await store.upsertDevice(Device(did: did, deviceID: DeviceID(trusted: "d1"), name: nil, createdAt: now, lastActiveAt: now.addingTimeInterval(5)))
        let devices = try await store.devices(of: did)
        #expect(devices.map(\.deviceID.rawValue) == ["d1", "d2"])
        #expect(devices[0].name == "laptop")  // a nil name keeps the old one
        #expect(try await store.deleteDevice(DeviceID(trusted: "d2"), of: did))
        #expect(try await !store.deleteDevice(DeviceID(trusted: "d2"), of: did))

        let rotated = try EncryptionKeyPair.generate(.mlKem1024).publicKey
        try await store.updateEncryptionKey(of: did, to: rotated, at: now)
        #expect(try await store.user(did)?.encryptionKey == rotated)
    }

    static func challengesAreSingleUse(_ store: any MasterStore) async throws {
        let did = try await makeUser(store)
        let other = try await makeUser(store)
        let clock = Date()
        try await store.storeChallenge("c1", for: did, expiresAt: clock.addingTimeInterval(300))
        try await store.storeChallenge("c2", for: did, expiresAt: clock.addingTimeInterval(300))
        try await store.storeChallenge("c3", for: did, expiresAt: clock.addingTimeInterval(300))
        #expect(try await store.consumeChallenge("c1", for: did, now: clock))
        #expect(try await !store.consumeChallenge("c1", for: did, now: clock))  // replay
        #expect(try await !store.consumeChallenge("c2", for: other, now: clock))  // wrong DID burns it
        #expect(try await !store.consumeChallenge("c2", for: did, now: clock))
        #expect(try await !store.consumeChallenge("c3", for: did, now: clock.addingTimeInterval(301)))  // expired

        // Of many concurrent consumers exactly one wins.
        try await store.storeChallenge("race", for: did, expiresAt: clock.addingTimeInterval(300))
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { try await store.consumeChallenge("race", for: did, now: clock) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
    }

    static func sessions(_ store: any MasterStore) async throws {
        let did = try await makeUser(store)
        let start = Date()
        let first = Session(id: SessionID(), did: did, deviceID: DeviceID(trusted: "d1"), createdAt: start, expiresAt: start.addingTimeInterval(3600))
        let second = Session(id: SessionID(), did: did, deviceID: nil, createdAt: start.addingTimeInterval(1), expiresAt: start.addingTimeInterval(3600))
        let expired = Session(id: SessionID(), did: did, deviceID: nil, createdAt: start.addingTimeInterval(-7200), expiresAt: start.addingTimeInterval(-3600))
        for session in [first, second, expired] { try await store.createSession(session) }
        #expect(try await store.activeSessions(of: did, now: start).map(\.id) == [second.id, first.id])
        #expect(try await store.session(first.id)?.deviceID == DeviceID(trusted: "d1"))

        let stranger = try await makeUser(store)
        #expect(try await !store.revokeSession(first.id, of: stranger, at: start))
        #expect(try await store.revokeSession(first.id, of: did, at: start))
        #expect(try await !store.revokeSession(first.id, of: did, at: start))
        #expect(try await store.session(first.id)?.revokedAt != nil)
        #expect(try await store.activeSessions(of: did, now: start).map(\.id) == [second.id])
        try await store.revokeSessions(of: DeviceID(trusted: "none"), of: did, at: start)
        #expect(try await store.activeSessions(of: did, now: start).count == 1)
    }

    static func serverKeyIsCreatedOnceAndShared(_ store: any MasterStore) async throws {
        let first = ServerSigningKey(kid: "k1", seed: SecureRandom.bytes(32), createdAt: now)
        let second = ServerSigningKey(kid: "k2", seed: SecureRandom.bytes(32), createdAt: now.addingTimeInterval(1))
        let stored = try await store.serverSigningKey(candidate: first)
        #expect(stored.kid == "k1" && stored.seed == first.seed)
        #expect(try await store.serverSigningKey(candidate: second).kid == "k1")
    }

    static func circlesAndMembers(_ store: any MasterStore) async throws {
        let owner = try await makeUser(store), friend = try await makeUser(store), third = try await makeUser(store)
        let circle = Circle(id: CircleID(), name: "Friends", description: "close", icon: nil, ownerDid: owner, isPrivate: true,
                            defaultPermissions: Permissions(view: true, copy: true), createdAt: now, updatedAt: now)
        try await store.createCircle(circle, owner: CircleMember(circleID: circle.id, did: owner, role: .owner, canInvite: true, canShare: true, joinedAt: now))
        #expect(try await store.circle(circle.id)?.defaultPermissions == Permissions(view: true, copy: true))
        try await store.addMember(CircleMember(circleID: circle.id, did: friend, role: .member, canInvite: false, canShare: true, joinedAt: now))
        await #expect(throws: VivimError.self) {
            try await store.addMember(CircleMember(circleID: circle.id, did: friend, role: .member, canInvite: false, canShare: true, joinedAt: now))
        }
        // A member must be a registered user.
        await #expect(throws: VivimError.self) {
            try await store.addMember(CircleMember(circleID: circle.id, did: SigningIdentity().did, role: .member, canInvite: false, canShare: true, joinedAt: now))
        }
        #expect(try await store.memberCount(of: circle.id) == 2)
        #expect(try await store.members(of: circle.id, page: PageRequest()).items.map(\.role) == [.owner, .member])

        let owned = try await store.circles(of: owner, relation: .owned, page: PageRequest())
        #expect(owned.items.map(\.circle.id) == [circle.id] && owned.items[0].memberCount == 2)
        #expect(try await store.circles(of: owner, relation: .member, page: PageRequest()).totalItems == 0)
        #expect(try await store.circles(of: friend, relation: .member, page: PageRequest()).items.first?.membership.role == .member)
        #expect(try await store.circles(of: third, relation: .all, page: PageRequest()).totalItems == 0)

        var updated = circle
        updated.name = "Close friends"
        updated.isPrivate = false
        try await store.updateCircle(updated)
        #expect(try await store.circle(circle.id)?.name == "Close friends")

        var member = try #require(try await store.member(friend, of: circle.id))
        member.role = .admin
        member.canInvite = true
        try await store.updateMember(member)
        #expect(try await store.member(friend, of: circle.id)?.role == .admin)
        #expect(try await store.removeMember(friend, from: circle.id))
        #expect(try await !store.removeMember(friend, from: circle.id))
        #expect(try await store.member(friend, of: circle.id) == nil)

        // Pagination.
        for index in 0..<5 {
            let extra = Circle(id: CircleID(), name: "c\(index)", description: nil, icon: nil, ownerDid: owner, isPrivate: true,
                               defaultPermissions: .viewOnly, createdAt: now.addingTimeInterval(Double(index + 1)), updatedAt: now)
            try await store.createCircle(extra, owner: CircleMember(circleID: extra.id, did: owner, role: .owner, canInvite: true, canShare: true, joinedAt: now))
        }
        let page = try await store.circles(of: owner, relation: .owned, page: PageRequest(page: 2, pageSize: 4))
        #expect(page.totalItems == 6 && page.items.count == 2 && page.totalPages == 2 && !page.hasMore)

        try await store.deleteCircle(circle.id)
        #expect(try await store.circle(circle.id) == nil)
        #expect(try await store.member(owner, of: circle.id) == nil)
    }

    static func deletingAUserRemovesTheirRows(_ store: any MasterStore) async throws {
        let did = try await makeUser(store)
        let other = try await makeUser(store)
        let circle = Circle(id: CircleID(), name: "mine", description: nil, icon: nil, ownerDid: did, isPrivate: true,
                            defaultPermissions: .viewOnly, createdAt: now, updatedAt: now)
        try await store.createCircle(circle, owner: CircleMember(circleID: circle.id, did: did, role: .owner, canInvite: true, canShare: true, joinedAt: now))
        try await store.addMember(CircleMember(circleID: circle.id, did: other, role: .member, canInvite: false, canShare: true, joinedAt: now))
        try await store.createSession(Session(id: SessionID(), did: did, deviceID: nil, createdAt: now, expiresAt: now.addingTimeInterval(60)))
        try await store.deleteUser(did)
        #expect(try await store.user(did) == nil)
        #expect(try await store.devices(of: did).isEmpty)
        #expect(try await store.circle(circle.id) == nil)
        #expect(try await store.circles(of: other, relation: .all, page: PageRequest()).totalItems == 0)
        #expect(try await store.user(other) != nil)
    }

    static func auditChainAppendsAndVerifies(_ store: any MasterStore) async throws {
        let did = SigningIdentity().did.description
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    _ = try await store.appendAudit(AuditEvent(type: index % 2 == 0 ? .authLogin : .authFailure, actorDid: did,
                                                               subject: "s\(index)", success: index % 2 == 0,
                                                               details: ["i": "\(index)", "z": "last"], clientAddress: "127.0.0.1",
                                                               timestamp: Date()))
                }
            }
            try await group.waitForAll()
        }
        let entries = try await store.auditEntries(after: 0, limit: 100)
        #expect(entries.map(\.sequence) == Array(1...40))
        #expect(try await store.verifyAuditChain(batchSize: 7) == .valid(entries: 40))
    }

    static func migrationsAreIdempotent(_ store: any MasterStore) async throws {
        try await store.migrate()
        try await store.migrate()
        try await store.ping()
    }
}

@Suite struct MasterStoreSQLiteTests {
    @Test func usersAndDevices() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.usersAndDevices) }
    @Test func challengesAreSingleUse() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.challengesAreSingleUse) }
    @Test func sessions() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.sessions) }
    @Test func serverKeyIsCreatedOnceAndShared() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.serverKeyIsCreatedOnceAndShared) }
    @Test func circlesAndMembers() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.circlesAndMembers) }
    @Test func deletingAUserRemovesTheirRows() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.deletingAUserRemovesTheirRows) }
    @Test func auditChainAppendsAndVerifies() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.auditChainAppendsAndVerifies) }
    @Test func migrationsAreIdempotent() async throws { try await TestDatabasesRun.sqlite(MasterStoreConformance.migrationsAreIdempotent) }
}

/// The same contract on a real PostgreSQL server (started by scripts/test.sh; never skipped).
@Suite struct MasterStorePostgreSQLTests {
    @Test func usersAndDevices() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.usersAndDevices) }
    @Test func challengesAreSingleUse() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.challengesAreSingleUse) }
    @Test func sessions() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.sessions) }
    @Test func serverKeyIsCreatedOnceAndShared() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.serverKeyIsCreatedOnceAndShared) }
    @Test func circlesAndMembers() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.circlesAndMembers) }
    @Test func deletingAUserRemovesTheirRows() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.deletingAUserRemovesTheirRows) }
    @Test func auditChainAppendsAndVerifies() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.auditChainAppendsAndVerifies) }
    @Test func migrationsAreIdempotent() async throws { try await TestDatabasesRun.postgres(MasterStoreConformance.migrationsAreIdempotent) }
}
