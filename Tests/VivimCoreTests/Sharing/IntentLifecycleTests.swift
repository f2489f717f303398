import Foundation
import Testing
import VivimCore

/// SPEC §5.2, written out independently of `IntentStatus.allowedMoves`.
private let specMoves: Set<[IntentStatus]> = [
    [.draft, .pending], [.pending, .validated], [.validated, .active], [.active, .expired], [.expired, .archived],
    [.draft, .cancelled], [.pending, .cancelled], [.validated, .cancelled],
    [.active, .revoked],
    [.revoked, .archived],
]

private let allPairs: [(IntentStatus, IntentStatus)] = IntentStatus.allCases.flatMap { from in IntentStatus.allCases.map { (from, $0) } }

@Suite struct IntentLifecycleTests {
    let t0 = SharingFixtures.epoch

    func intent(in status: IntentStatus) -> SharingIntent {
        SharingFixtures.intent(owner: SharingFixtures.did(1), content: [SharingFixtures.id(1)], audience: .public, status: status)
    }

    @Test(arguments: allPairs.filter { specMoves.contains([$0.0, $0.1]) })
    func allowedMoveSucceedsAndBumpsTheVersion(_ from: IntentStatus, _ to: IntentStatus) throws {
        let before = intent(in: from)
        let after = try before.moved(to: to, at: t0.addingTimeInterval(60))
        #expect(after.status == to)
        #expect(after.version == before.version + 1)
        #expect(after.updatedAt == t0.addingTimeInterval(60))
        #expect(after.id == before.id && after.spec == before.spec)
    }

    @Test(arguments: allPairs.filter { !specMoves.contains([$0.0, $0.1]) })
    func everyOtherMoveIsAConflict(_ from: IntentStatus, _ to: IntentStatus) {
        let before = intent(in: from)
        #expect(!from.canMove(to: to))
        #expect(throws: VivimError(.conflict, "an intent cannot move from \(from.rawValue) to \(to.rawValue)", field: "status",
                                   details: ["from": from.rawValue, "to": to.rawValue])) {
            try before.moved(to: to, at: t0)
        }
    }

    @Test func theTableCoversAllSixtyFourPairs() {
        #expect(allPairs.count == 64)
        #expect(allPairs.filter { $0.0.canMove(to: $0.1) }.count == specMoves.count)
    }

    @Test func publishingStampsPublishedAt() throws {
        let active = try intent(in: .validated).moved(to: .active, at: t0)
        #expect(active.publishedAt == t0)
    }

    @Test func revokingRecordsWhenAndWhy() throws {
        let revoked = try intent(in: .active).moved(to: .revoked, at: t0, reason: "posted by mistake")
        #expect(revoked.revokedAt == t0)
        #expect(revoked.revokedReason == "posted by mistake")
    }

    @Test func expiringEarlyMovesExpiresAtForwardButNeverLater() throws {
        var scheduled = intent(in: .active)
        scheduled.expiresAt = t0.addingTimeInterval(3600)
        #expect(try scheduled.moved(to: .expired, at: t0).expiresAt == t0)
        var overdue = intent(in: .active)
        overdue.expiresAt = t0.addingTimeInterval(-60)
        #expect(try overdue.moved(to: .expired, at: t0).expiresAt == t0.addingTimeInterval(-60))
    }

    @Test func statusesParseInAnyCase() throws {
        #expect(try IntentStatus(parsing: "validated", field: "status") == .validated)
        #expect(try IntentStatus(parsing: "Archived", field: "status") == .archived)
        #expect(throws: VivimError.self) { try IntentStatus(parsing: "LIVE", field: "status") }
    }
}
