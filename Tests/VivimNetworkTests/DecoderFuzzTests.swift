import Foundation
import Testing
import VivimCRDT
@testable import VivimNetwork

/// A short, deterministic mutation-fuzz run over every decoder of network input
/// (the long libFuzzer runs live in Fuzz/). Each decoder must either decode or
/// throw — never trap, hang or allocate without bound.
@Suite struct DecoderFuzzTests {
    static let iterations = 3000

    /// Valid seeds, mutated by bit flips, truncation, splicing and length-field corruption.
    static func mutations(of seeds: [[UInt8]], seed: UInt64) -> [[UInt8]] {
        var rng = TestRNG(seed: seed)
        var out: [[UInt8]] = []
        for n in 0..<iterations {
            var bytes = seeds[n % seeds.count]
            switch rng.next() % 5 {
            case 0 where !bytes.isEmpty:
                for _ in 0..<(1 + Int(rng.next() % 4)) { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8)) }
            case 1 where !bytes.isEmpty:
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 2:
                bytes += seeds[Int(rng.next() % UInt64(seeds.count))].prefix(Int(rng.next() % 40))
            case 3 where !bytes.isEmpty:
                bytes[Int(rng.next() % UInt64(bytes.count))] = [0xFF, 0x80, 0x00, 0x7F][Int(rng.next() % 4)]
            default:
                bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            out.append(bytes)
        }
        return out
    }

    static let peer = PeerKeyPair()
    static let other = PeerKeyPair()

    /// libFuzzer's find (Fuzz/corpus/identify/crash-length-overflow): a varint length prefix
    /// near 2^64 overflowed `prefix + length` and trapped; a peer could crash a node with it.
    @Test func anIdentifyStreamWithAHugeLengthPrefixDoesNotTrap() {
        let input: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0x01, 0x12, 0x01]
        #expect(throws: WireError.self) { try IdentifyMessage(stream: input) }
        for length: UInt64 in [UInt64.max, UInt64(Int.max), UInt64(Int.max) + 1, 1 << 62] {
            _ = try? IdentifyMessage(stream: UVarint.encode(length) + [0x12, 0x01, 0x00])
        }
    }

    @Test func protobufBasedMessagesNeverTrap() throws {
        let kad = KadMessage(type: .getProviders, key: [1, 2, 3], record: .init(key: [1], value: [2]),
                             closerPeers: [.init(id: Self.peer.peerID, addrs: [try Multiaddr("/ip4/1.2.3.4/tcp/5")])],
                             providerPeers: [.init(id: Self.peer.peerID)]).encoded
        let identify = IdentifyMessage(publicKey: Self.peer.publicKey, listenAddrs: [try Multiaddr("/dns/x/tcp/1")],
                                       protocols: ["/a"], agentVersion: "v").encoded
        let payload = try NoiseHandshakePayload.make(identity: Self.peer, staticPublicKey: [UInt8](repeating: 1, count: 32)).encoded
        var control = PubSubRPC.Control()
        control.ihave = [.init(topic: "t", messageIDs: [[1]])]
        control.prune = [.init(topic: "t", peers: [Self.peer.peerID], backoff: 1)]
        let pubsub = PubSubRPC(subscriptions: [.init(subscribe: true, topic: "t")],
                               messages: [try .signed(by: Self.peer, data: [1], seqno: 1, topic: "t")], control: control).encoded
        var request = ContentTransferProtocol.encodeRequest(ContentHash(of: [1]))
        request = try VarintFrame.decode(&request, maxLength: 256) ?? []
        var decoded = 0
        for input in Self.mutations(of: [kad, identify, payload, Self.peer.publicKey.protobufEncoded, pubsub, request], seed: 1) {
            if let rpc = try? PubSubRPC(decoding: input) {
                var router = GossipsubRouter(identity: Self.peer)
                let sender = Self.other.peerID
                _ = router.addPeer(sender)
                _ = router.handle(rpc, from: sender, now: .zero)
            }
            _ = try? ContentTransferProtocol.decodeRequest(input)
            _ = try? ContentTransferProtocol.decodeResponse(input)
            _ = try? ReplicationProtocol.decodeRequest(input)
            _ = try? ReplicationProtocol.decodeResponse(input)
            if (try? KadMessage(decoding: input)) != nil { decoded += 1 }
            _ = try? IdentifyMessage(stream: input)
            _ = try? NoiseHandshakePayload(decoding: input)
            _ = try? PeerPublicKey(protobuf: input)
            _ = try? PeerKeyPair(protobuf: input)
        }
        #expect(decoded > 0)  // the mutator also produces valid inputs, so decoding paths ran
    }

    @Test func addressesAndIdsNeverTrap() throws {
        let addr = try Multiaddr("/ip6/::1/tcp/1/p2p/\(Self.peer.peerID)").bytes
        for input in Self.mutations(of: [addr, Self.peer.peerID.bytes, Multihash.sha256([1]).bytes], seed: 2) {
            _ = try? Multiaddr(bytes: input)
            _ = try? PeerID(bytes: input)
            _ = try? Multihash(bytes: input)
            _ = try? Multiaddr(String(decoding: input, as: UTF8.self))
            _ = try? PeerID(string: String(decoding: input, as: UTF8.self))
        }
    }

    @Test func dnsMessagesNeverTrap() throws {
        var rng = TestRNG(seed: 4)
        var discovery = MDNSDiscovery(localPeer: Self.peer.peerID, listenAddresses: [try Multiaddr("/ip4/10.0.0.1/tcp/4001")], rng: &rng)
        let response = try #require(discovery.response(ttl: 120))
        let srv = try DNSMessage(flags: DNSMessage.responseFlags, answers: [
            .init(name: DNSName("a._p2p._udp.local"), ttl: 1, data: .srv(priority: 0, weight: 0, port: 1, target: DNSName("h.local"))),
            .init(name: DNSName("h.local"), ttl: 1, data: .a([10, 0, 0, 1])),
            .init(name: DNSName("h.local"), ttl: 1, data: .aaaa([UInt8](repeating: 0, count: 16))),
        ]).encoded()
        var decoded = 0
        for (i, input) in Self.mutations(of: [response, discovery.query(), srv], seed: 5).enumerated() {
            if (try? DNSMessage(decoding: input)) != nil { decoded += 1 }
            _ = discovery.receive(input, now: NetworkInstant(nanoseconds: UInt64(i) * 1_000_000))
        }
        #expect(decoded > 0)
    }

    @Test func streamingDecodersNeverTrap() throws {
        let ms = MultistreamSelect.encode(MultistreamSelect.header) + MultistreamSelect.encode("/noise")
        let yamux = YamuxHeader(type: .data, flags: .syn, streamID: 1, length: 3).encoded + [1, 2, 3]
            + YamuxHeader(type: .ping, flags: .syn, streamID: 0, length: 9).encoded
        for input in Self.mutations(of: [ms, yamux], seed: 3) {
            var responder = MultistreamSelect(role: .responder(supported: ["/noise"]))
            _ = try? responder.receive(input)
            var session = YamuxSession(role: .server)
            _ = try? session.receive(input)
            var listener = SecureConnection(role: .listener, identity: Self.peer)
            listener.start()
            _ = try? listener.receive(input)
            var buffer = input
            _ = try? VarintFrame.decode(&buffer, maxLength: 1024)
        }
    }

    /// Issue 11: the decoders the first version of this suite missed (honesty audit §1.5): the
    /// DHT content record with the node that validates and merges it, the revocation notice,
    /// the storage index with a restart, and `/vivim/sync/1.0.0` frames with the CRDT sync core.
    @Test func recordsNoticesIndexesAndSyncFramesNeverTrap() throws {
        var record = ContentRecord(contentID: "c", contentType: "text/plain", bundleHash: ContentHash(of: [1]),
                                   metadata: .init(size: 1, createdAt: 1_700_000_000, expiresAt: 1_800_000_000, replicationFactor: 3),
                                   owner: Self.peer.peerID)
        try record.sign(as: Self.peer, addrs: [try Multiaddr("/ip4/10.0.0.1/tcp/1")], at: 1_700_000_000)
        var revocation = record.revoked(at: 1_750_000_000)
        try revocation.sign(as: Self.peer, addrs: [], at: 1_750_000_000)
        let put = KadMessage(type: .putValue, key: record.key, record: .init(key: record.key, value: record.encoded)).encoded
        let notice = VivimNode.revocationNotice(revocation)
        let index = StorageIndex(items: [
            .init(hash: ContentHash(of: [1]), origin: .replica(owner: Self.other.peerID), owner: nil, size: 1, replicationFactor: 0,
                  pinned: false, expiresAt: 1_800_000_000, lastAccess: 1_700_000_000, replicas: [], refused: [], contentID: "c",
                  contentType: "text/plain", createdAt: 1_700_000_000, topics: ["content:c"]),
        ], graves: [.init(hash: ContentHash(of: [2]), owner: Self.other.peerID, reason: .revoked, at: 1,
                          unacknowledged: [Self.peer.peerID: 3], abandoned: [])]).encoded
        var document = CRDTDocument(id: "collection:x", replica: ReplicaID(5))
        document.insertText("hello", at: 0, in: "body")
        document.increment("views", by: 2)
        let frame = SyncProtocol.Frame.messages([.stateVector(document.id, document.stateVector),
                                                 .delta(document.update(since: StateVector()))]).body
        var decoded = 0
        for (i, input) in Self.mutations(of: [record.encoded, revocation.encoded, put, notice, index, frame], seed: 6).enumerated() {
            let now = NetworkInstant(nanoseconds: UInt64(i) << 40)
            if let r = try? ContentRecord(decoding: input) {
                decoded += 1
                _ = r.isValid(unixNow: .max)
                _ = ContentRecord.merge(record, r)
                _ = r.isRevocation(by: Self.peer.peerID)
            }
            if let message = try? KadMessage(decoding: input) {
                var node = KademliaNode(localPeer: Self.other.peerID)
                _ = node.handleRequest(from: Self.peer.peerID, message, now: now)
            }
            if input.starts(with: VivimNode.revocationPrefix),
               let n = try? JSONDecoder().decode(VivimNode.RevocationNotice.self, from: Data(input)),
               let bytes = ContentStore.unhex(n.record) {
                _ = try? ContentRecord(decoding: bytes)
            }
            let restored = StorageIndex.decode(input)
            var storage = StorageManager(localPeer: Self.peer.peerID)
            let files = Dictionary(restored.index.items.map { ($0.hash, 1) }, uniquingKeysWith: { a, _ in a })
            _ = storage.restore(restored.index, files: files, now: now, unixNow: UInt64(i) << 50)
            _ = storage.tick(now: .distantFuture)
            if case .messages(let messages)? = try? SyncProtocol.Frame(decoding: input) {
                for message in messages {
                    var core = CRDTSyncCore<Int>(document: CRDTDocument(id: message.document, replica: ReplicaID(9)))
                    _ = core.handle(.received(message, from: 1))
                }
            }
        }
        #expect(decoded > 0)
    }
}
