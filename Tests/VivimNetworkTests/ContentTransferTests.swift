import Synchronization
import Testing
@testable import VivimNetwork

@Suite struct ContentTransferCodecTests {
    @Test func requestAndResponseRoundTrip() throws {
        let hash = ContentHash(of: [1, 2, 3])
        var request = ContentTransferProtocol.encodeRequest(hash)
        let body = try #require(try VarintFrame.decode(&request, maxLength: 256))
        #expect(try ContentTransferProtocol.decodeRequest(body) == hash)
        var response = ContentTransferProtocol.encodeResponse(.ok, size: 42)
        let rbody = try #require(try VarintFrame.decode(&response, maxLength: 256))
        #expect(try ContentTransferProtocol.decodeResponse(rbody) == (.ok, 42))
    }

    @Test func contentHashIsTheSHA256MultihashAndRejectsOthers() throws {
        let hash = ContentHash(of: Array("bundle".utf8))
        #expect(hash.key.prefix(2) == [0x12, 0x20])
        #expect(hash.matches(Array("bundle".utf8)))
        #expect(!hash.matches(Array("bundlE".utf8)))
        #expect(throws: WireError.self) { try ContentHash(multihashBytes: Multihash.identity([1]).bytes) }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ContentTransferSocketTests {
    final class Store: Sendable {
        let items = Mutex<[ContentHash: [UInt8]]>([:])
        func put(_ bytes: [UInt8]) -> ContentHash {
            let h = ContentHash(of: bytes)
            items.withLock { $0[h] = bytes }
            return h
        }
        func get(_ h: ContentHash) -> [UInt8]? { items.withLock { $0[h] } }
    }

    @Test func fetchesAndVerifiesABundleLargerThanTheYamuxWindow() async throws {
        let store = Store()
        let provider = P2PHost(identity: PeerKeyPair()), client = P2PHost(identity: PeerKeyPair())
        let addr = try await provider.listen()
        let serving = ContentTransferService(host: provider) { store.get($0) }
        await serving.start()
        let fetching = ContentTransferService(host: client) { _ in nil }
        let bundle = (0..<(3 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hash = store.put(bundle)
        let got = try await fetching.fetch(hash, from: provider.peerID, addrs: [addr])
        #expect(got == bundle)
        await #expect(throws: ContentTransferService.Error.notFound) {
            try await fetching.fetch(ContentHash(of: [9]), from: provider.peerID)
        }
        await provider.shutdown(); await client.shutdown()
    }

    @Test func rejectsBytesThatDoNotMatchTheHash() async throws {
        let liar = P2PHost(identity: PeerKeyPair()), client = P2PHost(identity: PeerKeyPair())
        let addr = try await liar.listen()
        // A provider that answers every request with the wrong bytes.
        liar.handle(ContentTransferProtocol.protocolID) { stream in
            var reader = StreamReader(stream)
            _ = try await reader.readFrame(maxLength: 256)
            try await stream.write(ContentTransferProtocol.encodeResponse(.ok, size: 4))
            try await stream.write([6, 6, 6, 6])
        }
        let fetching = ContentTransferService(host: client) { _ in nil }
        await #expect(throws: ContentTransferService.Error.hashMismatch) {
            try await fetching.fetch(ContentHash(of: [1, 2, 3, 4]), from: liar.peerID, addrs: [addr])
        }
        await liar.shutdown(); await client.shutdown()
    }

    /// Issue 11: every extreme size a provider can announce is refused or read up to the limit,
    /// never trusted for an allocation; a caller's `maxSize` (a replica's declared size) is
    /// enforced before the body is read.
    @Test func anExtremeAnnouncedSizeIsRefusedBeforeTheBodyIsRead() async throws {
        let liar = P2PHost(identity: PeerKeyPair()), client = P2PHost(identity: PeerKeyPair())
        let addr = try await liar.listen()
        let announced = Mutex<UInt64>(0)
        liar.handle(ContentTransferProtocol.protocolID) { stream in
            var reader = StreamReader(stream)
            _ = try await reader.readFrame(maxLength: 256)
            try await stream.write(ContentTransferProtocol.encodeResponse(.ok, size: announced.withLock { $0 }))
            try await stream.write([1, 2, 3, 4])
        }
        let fetching = ContentTransferService(host: client) { _ in nil }
        let hash = ContentHash(of: [1, 2, 3, 4])
        for size in extremeWireValues {
            announced.withLock { $0 = size }
            await #expect(throws: ContentTransferService.Error.self) {
                try await fetching.fetch(ContentHash(of: [9]), from: liar.peerID, addrs: [addr])
            }
            if size > UInt64(ContentTransferService.Configuration().maxBundleSize) {
                await #expect(throws: ContentTransferService.Error.tooLarge(size)) {
                    try await fetching.fetch(hash, from: liar.peerID, addrs: [addr])
                }
            }
        }
        announced.withLock { $0 = 4 }
        #expect(try await fetching.fetch(hash, from: liar.peerID, addrs: [addr], maxSize: 4) == [1, 2, 3, 4])
        await #expect(throws: ContentTransferService.Error.tooLarge(4)) {
            try await fetching.fetch(hash, from: liar.peerID, addrs: [addr], maxSize: 3)
        }
        await liar.shutdown(); await client.shutdown()
    }

    @Test func aProviderAtCapacityAnswersBusy() async throws {
        let gate = Mutex<Bool>(false)
        let provider = P2PHost(identity: PeerKeyPair()), client = P2PHost(identity: PeerKeyPair())
        let addr = try await provider.listen()
        var config = ContentTransferService.Configuration()
        config.maxConcurrentTransfers = 1
        let slow = [UInt8](repeating: 1, count: 10)
        let slowHash = ContentHash(of: slow)
        let serving = ContentTransferService(host: provider, configuration: config) { hash in
            // Hold the only transfer slot until the test opens the gate (bounded wait).
            for _ in 0..<500 where !gate.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
            return hash == slowHash ? slow : nil
        }
        await serving.start()
        let fetching = ContentTransferService(host: client) { _ in nil }
        let first = Task { try await fetching.fetch(slowHash, from: provider.peerID, addrs: [addr]) }
        for _ in 0..<200 where await serving.activeTransfers.serving == 0 { try await Task.sleep(for: .milliseconds(10)) }
        await #expect(throws: ContentTransferService.Error.busy) {
            try await fetching.fetch(slowHash, from: provider.peerID, addrs: [addr])
        }
        gate.withLock { $0 = true }
        #expect(try await first.value == slow)
        await provider.shutdown(); await client.shutdown()
    }
}
