import Testing
@testable import VivimNetwork

/// A whole node reads time from the one clock its host configuration carries (SPEC §8.1,
/// STYLE §1): records are stamped with it and content expires when it says so, not when
/// the machine's clock moves.
@Suite(.serialized, .timeLimit(.minutes(2))) struct NodeClockTests {
    @Test func aNodeOnAManualClockStampsRecordsAndExpiresContentOnlyWhenThatClockMoves() async throws {
        let root = try NodeRestartTests.root()
        defer { removeTree(root) }
        let manual = ManualNetworkClock(unixSeconds: 1_900_000_000)
        let net = try await NodeRestartTests.network(root, count: 1) { config in
            config.host.clock = manual.clock
            config.host.random = .seeded(42)
        }
        let owner = net.nodes[0]
        let hash = try await owner.publish(contentId: "clock-test", bytes: NodeRestartTests.bundle(3), expiresIn: .seconds(60))
        let record = try await owner.record(of: "clock-test")
        #expect(record.metadata.createdAt == 1_900_000_000)
        #expect(record.metadata.expiresAt == 1_900_000_060)

        // Real time passes, storage ticks run, but the node's clock stands still: nothing expires.
        try await Task.sleep(for: .milliseconds(700))
        await owner.storage.tick()
        #expect(await owner.storage.entry(hash) != nil)
        #expect(await !owner.storage.isTombstoned(hash))

        manual.advance(by: .seconds(61))
        await owner.storage.tick()
        #expect(await owner.storage.entry(hash) == nil)
        #expect(await owner.storage.isTombstoned(hash))
        await owner.shutdown()
        await net.seed.shutdown()
    }

    @Test func aSeededRandomSourceRepeatsAndTheManualClockSaturates() {
        let a = NetworkRandom.seeded(7), b = NetworkRandom.seeded(7)
        #expect((0..<5).map { _ in a.next() } == (0..<5).map { _ in b.next() })
        let manual = ManualNetworkClock(now: NetworkInstant(nanoseconds: .max - 10))
        manual.advance(by: .seconds(Int64.max))
        #expect(manual.clock.now == .distantFuture)
    }
}
