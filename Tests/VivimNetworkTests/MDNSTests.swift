import Foundation
import Testing
@testable import VivimNetwork

/// libp2p mDNS discovery: the DNS codec (RFC 1035 / RFC 6762) and the Sans-IO state machine.
@Suite struct MDNSTests {
    static let a = PeerKeyPair()
    static let b = PeerKeyPair()
    static let c = PeerKeyPair()

    static func machine(_ key: PeerKeyPair, port: UInt16 = 4001, seed: UInt64 = 1,
                        _ tune: (inout MDNSDiscovery.Configuration) -> Void = { _ in }) throws -> MDNSDiscovery {
        var config = MDNSDiscovery.Configuration()
        tune(&config)
        var rng = TestRNG(seed: seed)
        return MDNSDiscovery(localPeer: key.peerID, listenAddresses: [try Multiaddr("/ip4/192.168.1.\(port % 200 + 2)/tcp/\(port)")],
                             configuration: config, rng: &rng)
    }

    static func sent(_ actions: [MDNSDiscovery.Action]) -> [[UInt8]] {
        actions.compactMap { if case .send(let b) = $0 { b } else { nil } }
    }

    static func discovered(_ actions: [MDNSDiscovery.Action]) -> [PeerID: [Multiaddr]] {
        var out: [PeerID: [Multiaddr]] = [:]
        for case .discovered(let p, let addrs) in actions { out[p] = addrs }
        return out
    }

    static func seconds(_ s: Double) -> NetworkInstant { NetworkInstant(nanoseconds: UInt64(s * 1e9)) }

    /// A response for instance `name` whose TXT record carries `strings`.
    static func response(name: String = "peer1", strings: [String], ttl: UInt32 = 120) throws -> [UInt8] {
        let instance = MDNSDiscovery.serviceName.prepending(name)
        return try DNSMessage(flags: DNSMessage.responseFlags,
                              answers: [.init(name: MDNSDiscovery.serviceName, ttl: ttl, data: .ptr(instance))],
                              additionals: [.init(name: instance, ttl: ttl, data: .txt(strings.map { Array($0.utf8) }))]).encoded()
    }

    // MARK: state machine

    @Test func aQueryIsAnsweredAndTheAnswerDiscoversThePeer() throws {
        var alice = try Self.machine(Self.a, port: 4001)
        var bob = try Self.machine(Self.b, port: 4002, seed: 2)
        let start = alice.start(now: .zero)
        let query = try #require(Self.sent(start).first)
        let question = try #require(try DNSMessage(decoding: query).questions.first)
        #expect(question.name == DNSName("_p2p._udp.local") && question.type == .ptr && !question.unicastResponse)

        let answer = try #require(Self.sent(bob.receive(query, now: .zero)).first)
        let decoded = try DNSMessage(decoding: answer)
        #expect(decoded.isResponse)
        #expect(decoded.answers.first?.data == .ptr(bob.instanceName))
        #expect(decoded.additionals.first?.data == .txt([Array("dnsaddr=/ip4/192.168.1.4/tcp/4002/p2p/\(Self.b.peerID)".utf8)]))
        #expect(!bob.instanceName.description.contains(Self.b.peerID.description))  // the peer name is random

        let found = Self.discovered(alice.receive(answer, now: .zero))
        #expect(found == [Self.b.peerID: [try Multiaddr("/ip4/192.168.1.4/tcp/4002/p2p/\(Self.b.peerID)")]])
        #expect(alice.peers[Self.b.peerID] != nil)
        // Heard again with the same addresses: refreshed, not reported twice.
        #expect(Self.discovered(alice.receive(answer, now: Self.seconds(1))).isEmpty)
    }

    @Test func startAnnouncesTheNodeUnsolicited() throws {
        var alice = try Self.machine(Self.a)
        var bob = try Self.machine(Self.b, seed: 2)
        let announcement = Self.sent(alice.start(now: .zero)).map { try? DNSMessage(decoding: $0) }.compactMap { $0 }.first { $0.isResponse }
        let bytes = try #require(announcement).encoded()
        #expect(Self.discovered(bob.receive(bytes, now: .zero)).keys.contains(Self.a.peerID))
    }

    @Test func ownRecordsAndOwnIdAreIgnored() throws {
        var alice = try Self.machine(Self.a)
        let own = try #require(alice.response(ttl: 120))
        #expect(Self.discovered(alice.receive(own, now: .zero)).isEmpty)
        // Another instance name carrying our own peer id is ignored too, and is not an error.
        let spoof = try Self.response(strings: ["dnsaddr=/ip4/10.0.0.9/tcp/1/p2p/\(Self.a.peerID)"])
        #expect(Self.discovered(alice.receive(spoof, now: .zero)).isEmpty)
        #expect(alice.peers.isEmpty && alice.rejectedRecords == 0)
    }

    @Test(arguments: [
        ["dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/\(MDNSTests.b.peerID)", "dnsaddr=/ip4/10.0.0.2/tcp/4001/p2p/\(MDNSTests.c.peerID)"],
        ["dnsaddr=/ip4/10.0.0.1/tcp/4001"],
        ["dnsaddr=/ip4/10.0.0.1/p2p/\(MDNSTests.b.peerID)"],
        ["dnsaddr=/ip4/10.0.0.1/tcp/0/p2p/\(MDNSTests.b.peerID)"],
        ["dnsaddr=/ip4/0.0.0.0/tcp/4001/p2p/\(MDNSTests.b.peerID)"],
        ["dnsaddr=/ip4/224.0.0.251/tcp/4001/p2p/\(MDNSTests.b.peerID)"],
        ["dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/\(MDNSTests.b.peerID)/tcp/5"],
        ["dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/\(MDNSTests.b.peerID)", "dnsaddr=not a multiaddr"],
        ["dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/QmNotAPeerId"],
        ["dnsaddr=/unix/tmp/sock/p2p/\(MDNSTests.b.peerID)"],
    ])
    func invalidOrInconsistentRecordsAreRejected(_ strings: [String]) throws {
        var alice = try Self.machine(Self.a)
        #expect(Self.discovered(alice.receive(try Self.response(strings: strings), now: .zero)).isEmpty)
        #expect(alice.peers.isEmpty)
        #expect(alice.rejectedRecords == 1)
    }

    @Test func otherTXTAttributesAreSkippedAndDuplicatesMerged() throws {
        var alice = try Self.machine(Self.a)
        let addr = "/ip6/fe80::1/tcp/4001/p2p/\(Self.b.peerID)"
        let message = try Self.response(strings: ["txtvers=1", "DNSADDR=\(addr)", "dnsaddr=\(addr)", "dnsaddr=/dns4/node.local/tcp/7/p2p/\(Self.b.peerID)"])
        let found = Self.discovered(alice.receive(message, now: .zero))
        #expect(found[Self.b.peerID] == [try Multiaddr(addr), try Multiaddr("/dns4/node.local/tcp/7/p2p/\(Self.b.peerID)")])
    }

    @Test func recordsWithoutAPointerToTheServiceAreIgnored() throws {
        var alice = try Self.machine(Self.a)
        let instance = MDNSDiscovery.serviceName.prepending("x")
        let orphan = try DNSMessage(flags: DNSMessage.responseFlags, additionals: [
            .init(name: instance, ttl: 120, data: .txt([Array("dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/\(Self.b.peerID)".utf8)])),
        ]).encoded()
        #expect(alice.receive(orphan, now: .zero).isEmpty)
    }

    @Test func discoveredPeersExpireWithTheirTTL() throws {
        var alice = try Self.machine(Self.a) { $0.recordTTL = .seconds(10) }
        let strings = ["dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/\(Self.b.peerID)"]
        _ = alice.receive(try Self.response(strings: strings, ttl: 3), now: .zero)
        #expect(alice.peers[Self.b.peerID]?.expires == Self.seconds(3))
        #expect(!alice.tick(now: Self.seconds(2.9)).contains(.expired(Self.b.peerID)))
        #expect(alice.tick(now: Self.seconds(3)).contains(.expired(Self.b.peerID)))
        #expect(alice.peers.isEmpty)
        // A TTL above the configured maximum is capped.
        _ = alice.receive(try Self.response(strings: strings, ttl: 4500), now: Self.seconds(5))
        #expect(alice.peers[Self.b.peerID]?.expires == Self.seconds(15))
    }

    @Test func aGoodbyeRemovesThePeerAtOnce() throws {
        var alice = try Self.machine(Self.a)
        var bob = try Self.machine(Self.b, seed: 2)
        _ = alice.receive(try #require(bob.response(ttl: 120)), now: .zero)
        #expect(alice.peers[Self.b.peerID] != nil)
        #expect(alice.receive(try #require(bob.goodbye()), now: .zero) == [.expired(Self.b.peerID)])
        #expect(alice.peers.isEmpty)
    }

    @Test func thePeerCapBoundsTrackedPeers() throws {
        var alice = try Self.machine(Self.a) { $0.maxPeers = 3 }
        var found = 0
        for i in 0..<6 {
            let peer = PeerKeyPair().peerID
            let message = try Self.response(name: "p\(i)", strings: ["dnsaddr=/ip4/10.0.0.\(i + 1)/tcp/4001/p2p/\(peer)"])
            found += Self.discovered(alice.receive(message, now: Self.seconds(Double(i) * 2))).count
        }
        #expect(found == 3 && alice.peers.count == 3 && alice.droppedPeers == 3)
    }

    @Test func reportsAreRateLimitedPerWindow() throws {
        var alice = try Self.machine(Self.a) {
            $0.maxReportsPerWindow = 2
            $0.reportWindow = .seconds(1)
        }
        let peers = (0..<3).map { _ in PeerKeyPair().peerID }
        let messages = try peers.enumerated().map { i, p in
            try Self.response(name: "p\(i)", strings: ["dnsaddr=/ip4/10.0.0.\(i + 1)/tcp/4001/p2p/\(p)"])
        }
        var found = 0
        for m in messages { found += Self.discovered(alice.receive(m, now: .zero)).count }
        #expect(found == 2 && alice.droppedPeers == 1)
        // The next window accepts the peer that was dropped.
        #expect(Self.discovered(alice.receive(messages[2], now: Self.seconds(1))).keys.contains(peers[2]))
    }

    @Test func addressesPerPeerAreCapped() throws {
        var alice = try Self.machine(Self.a) { $0.maxAddressesPerPeer = 2 }
        let strings = (1...5).map { "dnsaddr=/ip4/10.0.0.\($0)/tcp/4001/p2p/\(Self.b.peerID)" }
        #expect(Self.discovered(alice.receive(try Self.response(strings: strings), now: .zero))[Self.b.peerID]?.count == 2)
    }

    @Test func responsesAreSentAtMostOncePerIntervalAndDelayedOnesFollow() throws {
        var bob = try Self.machine(Self.b) { $0.minResponseInterval = .seconds(1) }
        var alice = try Self.machine(Self.a, seed: 2)
        let query = alice.query()
        _ = alice.start(now: .zero)
        #expect(Self.sent(bob.receive(query, now: .zero)).count == 1)
        #expect(Self.sent(bob.receive(query, now: Self.seconds(0.2))).isEmpty)
        #expect(Self.sent(bob.receive(query, now: Self.seconds(0.4))).isEmpty)
        #expect(bob.nextDeadline == Self.seconds(1))
        let delayed = Self.sent(bob.tick(now: Self.seconds(1)))
        #expect(delayed.count == 1 && (try? DNSMessage(decoding: delayed[0]))?.isResponse == true)
        #expect(Self.sent(bob.tick(now: Self.seconds(1.5))).isEmpty)
    }

    @Test func knownAnswersSuppressTheResponse() throws {
        var bob = try Self.machine(Self.b)
        var query = try DNSMessage(decoding: bob.query())
        query.answers = [.init(name: MDNSDiscovery.serviceName, ttl: 100, data: .ptr(bob.instanceName))]
        #expect(bob.receive(try query.encoded(), now: .zero).isEmpty)
        query.answers[0].ttl = 10  // less than half our TTL: answer again
        #expect(Self.sent(bob.receive(try query.encoded(), now: .zero)).count == 1)
    }

    @Test func queriesForOtherNamesAreNotAnswered() throws {
        var bob = try Self.machine(Self.b)
        let other = try DNSMessage(questions: [.init(name: DNSName("_http._tcp.local"), type: .ptr)]).encoded()
        #expect(bob.receive(other, now: .zero).isEmpty)
        let txt = try DNSMessage(questions: [.init(name: MDNSDiscovery.serviceName, type: .txt)]).encoded()
        #expect(bob.receive(txt, now: .zero).isEmpty)
        let any = try DNSMessage(questions: [.init(name: DNSName("_P2P._UDP.LOCAL"), type: .any, unicastResponse: true)]).encoded()
        #expect(Self.sent(bob.receive(any, now: .zero)).count == 1)  // names are case-insensitive
    }

    @Test func queriesRepeatWithGrowingIntervals() throws {
        var alice = try Self.machine(Self.a) {
            $0.initialQueryDelay = .seconds(1)
            $0.queryInterval = .seconds(5)
        }
        _ = alice.start(now: .zero)
        var times: [Double] = []
        for tenth in 1...200 {
            let t = Double(tenth) / 10
            let queries = Self.sent(alice.tick(now: Self.seconds(t))).filter { (try? DNSMessage(decoding: $0))?.isResponse == false }
            if !queries.isEmpty { times.append(t) }
        }
        #expect(times == [1, 3, 7, 12, 17])
    }

    @Test func onlyDialableTCPListenAddressesAreAnnounced() throws {
        var rng = TestRNG(seed: 3)
        let machine = MDNSDiscovery(localPeer: Self.a.peerID, listenAddresses: [
            try Multiaddr("/ip4/0.0.0.0/tcp/4001"), try Multiaddr("/ip4/10.0.0.1/tcp/4001"),
            try Multiaddr("/ip4/10.0.0.1/tcp/4001/p2p/\(Self.a.peerID)"), try Multiaddr("/ip4/10.0.0.2/tcp/4001/p2p/\(Self.b.peerID)"),
            try Multiaddr("/dns/example.org/tcp/4001"),
        ], rng: &rng)
        #expect(machine.listenAddresses.map(\.description) == [
            "/ip4/10.0.0.1/tcp/4001/p2p/\(Self.a.peerID)", "/dns/example.org/tcp/4001/p2p/\(Self.a.peerID)",
        ])
        let none = MDNSDiscovery(localPeer: Self.a.peerID, listenAddresses: [], rng: &rng)
        #expect(none.response(ttl: 120) == nil)
    }

    @Test func unspecifiedListenAddressesExpandToInterfaceAddresses() throws {
        let expanded = MDNSService.expandingUnspecified([try Multiaddr("/ip4/0.0.0.0/tcp/4001"), try Multiaddr("/ip4/10.1.2.3/tcp/1")])
        #expect(expanded.last == (try Multiaddr("/ip4/10.1.2.3/tcp/1")))
        #expect(!expanded.contains(try Multiaddr("/ip4/0.0.0.0/tcp/4001")))
        #expect(expanded.contains(try Multiaddr("/ip4/127.0.0.1/tcp/4001")))
    }

    // MARK: DNS codec

    @Test func messagesRoundTripWithCompressedNames() throws {
        let instance = MDNSDiscovery.serviceName.prepending("abc")
        let message = DNSMessage(id: 7, flags: DNSMessage.responseFlags,
                                 questions: [.init(name: MDNSDiscovery.serviceName, type: .ptr, unicastResponse: true)],
                                 answers: [.init(name: MDNSDiscovery.serviceName, ttl: 120, data: .ptr(instance))],
                                 authorities: [.init(name: DNSName("host.local"), ttl: 1, data: .a([10, 0, 0, 1]), cacheFlush: true)],
                                 additionals: [
                                     .init(name: instance, ttl: 120, data: .txt([Array("dnsaddr=/x".utf8), []])),
                                     .init(name: instance, ttl: 120, data: .srv(priority: 1, weight: 2, port: 4001, target: DNSName("host.local"))),
                                     .init(name: DNSName("host.local"), ttl: 120, data: .aaaa([UInt8](repeating: 1, count: 16))),
                                     .init(name: DNSName("host.local"), ttl: 120, data: .other(.init(rawValue: 47), [1, 2, 3])),
                                 ])
        let bytes = try message.encoded()
        #expect(try DNSMessage(decoding: bytes) == message)
        // `_p2p._udp.local` is written once; later names point back at it.
        let service: [UInt8] = [4] + Array("_p2p".utf8) + [4] + Array("_udp".utf8) + [5] + Array("local".utf8) + [0]
        #expect(bytes.count < 200)
        #expect(occurrences(of: service, in: bytes) == 1)
    }

    func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> Int {
        guard haystack.count >= needle.count else { return 0 }
        return (0...(haystack.count - needle.count)).filter { Array(haystack[$0..<($0 + needle.count)]) == needle }.count
    }

    /// Header + one question whose name is `name` (raw bytes), type PTR, class IN.
    static func rawQuery(_ name: [UInt8], prefix: [UInt8] = []) -> [UInt8] {
        [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] + prefix + name + [0, 12, 0, 1]
    }

    @Test func hostileNamesAreRejected() throws {
        // A pointer to itself (offset 12), a forward pointer, and two names pointing at each
        // other (a loop needs a forward pointer, so it is refused at its first jump).
        #expect(throws: WireError.self) { try DNSMessage(decoding: Self.rawQuery([0xC0, 12])) }
        #expect(throws: WireError.self) { try DNSMessage(decoding: Self.rawQuery([0xC0, 40])) }
        let loop: [UInt8] = [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 0x61, 0xC0, 18, 0, 12, 0, 1, 1, 0x62, 0xC0, 12, 0, 12, 0, 1]
        #expect(throws: WireError.self) { try DNSMessage(decoding: loop) }
        // Extended label types (0b01, 0b10), a label past the end, a name longer than 255 bytes.
        #expect(throws: WireError.self) { try DNSMessage(decoding: Self.rawQuery([0x41, 0])) }
        #expect(throws: WireError.self) { try DNSMessage(decoding: Self.rawQuery([0x80, 0])) }
        #expect(throws: WireError.self) { try DNSMessage(decoding: [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 1, 2]) }
        let long: [UInt8] = (0..<5).flatMap { _ -> [UInt8] in [63] + [UInt8](repeating: 0x61, count: 63) } + [0]
        #expect(throws: WireError.lengthExceedsLimit(length: 257, limit: 255)) { try DNSMessage(decoding: Self.rawQuery(long)) }
        // 40 questions, each `a` + a pointer to the previous one: the later names need more
        // than 32 jumps and are refused.
        var chain: [UInt8] = [0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0]
        var previous = 0
        for i in 0..<40 {
            let here = chain.count
            chain += [1, 0x61] + (i == 0 ? [0] : [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)]) + [0, 12, 0, 1]
            previous = here
        }
        #expect(throws: WireError.tooManyElements(limit: 32)) { try DNSMessage(decoding: chain) }
        var first32 = Array(chain[..<(12 + 7 + 8 * 31)])  // the 32nd name needs 31 jumps: accepted
        first32[5] = 32
        #expect(try DNSMessage(decoding: first32).questions.count == 32)
    }

    @Test func validCompressionDecodes() throws {
        // Question `local` at 12, then `_udp` + pointer to it, as a second question.
        let bytes: [UInt8] = [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
                              5] + Array("local".utf8) + [0, 0, 12, 0, 1,
                              4] + Array("_udp".utf8) + [0xC0, 12, 0, 12, 0, 1]
        let message = try DNSMessage(decoding: bytes)
        #expect(message.questions.map(\.name) == [DNSName("local"), DNSName("_udp.local")])
    }

    @Test func hostileRecordsAreRejected() throws {
        let name: [UInt8] = [1, 0x61, 0]
        func answer(type: UInt16, rdata: [UInt8], declared: Int? = nil) -> [UInt8] {
            let length = declared ?? rdata.count
            return [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0] + name + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0, 120,
                                                                    UInt8(length >> 8), UInt8(length & 0xFF)] + rdata
        }
        #expect(throws: WireError.self) { try DNSMessage(decoding: answer(type: 1, rdata: [1, 2, 3])) }          // A of 3 bytes
        #expect(throws: WireError.self) { try DNSMessage(decoding: answer(type: 28, rdata: [1, 2, 3, 4])) }     // AAAA of 4
        #expect(throws: WireError.self) { try DNSMessage(decoding: answer(type: 16, rdata: [5, 1, 2])) }        // TXT string overruns
        #expect(throws: WireError.self) { try DNSMessage(decoding: answer(type: 16, rdata: [1, 2], declared: 9)) }  // rdlength overruns
        #expect(throws: WireError.self) { try DNSMessage(decoding: answer(type: 12, rdata: name, declared: 2)) } // PTR name past rdata
        #expect(throws: WireError.self) { try DNSMessage(decoding: answer(type: 33, rdata: [0, 1, 0, 2])) }     // SRV cut short
        #expect(throws: WireError.self) { try DNSMessage(decoding: answer(type: 16, rdata: [UInt8](repeating: 0, count: 65))) }  // > 64 strings
        #expect(try DNSMessage(decoding: answer(type: 16, rdata: [0])).answers.first?.data == .txt([[]]))
        // Counts the input cannot hold, more entries than allowed, a message over 9000 bytes.
        #expect(throws: WireError.truncated) { try DNSMessage(decoding: [0, 0, 0x84, 0, 0, 0, 0, 200, 0, 0, 0, 0]) }
        #expect(throws: WireError.tooManyElements(limit: 256)) { try DNSMessage(decoding: [0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: WireError.self) { try DNSMessage(decoding: [UInt8](repeating: 0, count: 9001)) }
        #expect(throws: WireError.truncated) { try DNSMessage(decoding: [0, 0, 0]) }
    }

    @Test func encodingRefusesOversizedParts() {
        let long = DNSName(labels: [[UInt8](repeating: 0x61, count: 64)])
        #expect(throws: WireError.self) { try DNSMessage(questions: [.init(name: long, type: .ptr)]).encoded() }
        let txt = DNSMessage.ResourceRecord(name: DNSName("a"), ttl: 1, data: .txt([[UInt8](repeating: 0, count: 256)]))
        #expect(throws: WireError.self) { try DNSMessage(answers: [txt]).encoded() }
        let big = DNSMessage.ResourceRecord(name: DNSName("a"), ttl: 1, data: .other(.init(rawValue: 99), [UInt8](repeating: 0, count: 9000)))
        #expect(throws: WireError.self) { try DNSMessage(answers: [big]).encoded() }
    }

    @Test func theFuzzCorpusSeedsAreValidMessages() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/dns")
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.path)
        #expect(files.count >= 3)
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: corpus.appendingPathComponent(file)))
            #expect(throws: Never.self, "\(file)") { try DNSMessage(decoding: bytes) }
        }
        var alice = try Self.machine(Self.a)
        let seed = try [UInt8](Data(contentsOf: corpus.appendingPathComponent("response-ptr-txt")))
        #expect(Self.discovered(alice.receive(seed, now: .zero)).count == 1)
    }

    @Test func mutatedMessagesNeverTrapTheCodecOrTheStateMachine() throws {
        var bob = try Self.machine(Self.b)
        let seeds = [try #require(bob.response(ttl: 120)), bob.query(), try Self.response(strings: ["dnsaddr=/ip4/1.2.3.4/tcp/5/p2p/\(Self.c.peerID)"])]
        var alice = try Self.machine(Self.a)
        var decoded = 0
        for (i, input) in DecoderFuzzTests.mutations(of: seeds, seed: 11).enumerated() {
            if let m = try? DNSMessage(decoding: input) {
                decoded += 1
                _ = try? m.encoded()
            }
            _ = alice.receive(input, now: Self.seconds(Double(i) / 100))
            _ = bob.receive(input, now: Self.seconds(Double(i) / 100))
        }
        #expect(decoded > 0)
        #expect(alice.peers.count <= alice.configuration.maxPeers)
    }
}

// MARK: - real multicast between processes

extension NodeProcess {
    /// A `vivim node --mdns` process started inside a network namespace (`ip netns exec`),
    /// printing its status every second.
    convenience init(namespace: String, executable: String, dataDirectory: String) throws {
        try self.init(launching: MDNSProcessTests.ip,
                      ["netns", "exec", namespace, executable, "node", "--mdns", "--listen", "/ip4/127.0.0.1/tcp/0",
                       "--data-dir", dataDirectory, "--type", "edge", "--log-level", "error", "--status-interval", "1"])
    }

    /// A count (`connected`, `known`) from the last `vivim node: status` line.
    func status(_ name: String) -> Int? {
        guard let line = output.last(where: { $0.hasPrefix("vivim node: status ") }),
              let field = line.split(separator: " ").first(where: { $0.hasPrefix(name + "=") }) else { return nil }
        return Int(field.dropFirst(name.count + 1))
    }
}

@Suite(.serialized, .timeLimit(.minutes(2))) struct MDNSProcessTests {
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? ""

    @discardableResult
    static func run(_ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    static let canCreateNamespaces = getuid() == 0 && !ip.isEmpty
    /// Under CI (`CI=true`, where scripts/test.sh runs as root and installs iproute2) the test
    /// must run: there it fails instead of being skipped when it cannot create the namespace.
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Three `vivim node --mdns` processes with no bootstrap list, in a private network
    /// namespace whose loopback carries multicast: they find and connect to each other.
    @Test(.enabled(if: canCreateNamespaces || isCI, "needs root and the `ip` tool: it creates a network namespace with multicast on its loopback"))
    func nodesOnOneLinkFindAndConnectToEachOtherWithoutBootstrap() async throws {
        guard Self.canCreateNamespaces else {
            throw TestError(description: "CI=true but this runner cannot create a network namespace: "
                + (getuid() != 0 ? "not root" : "no `ip` binary (install iproute2)"))
        }
        let executable = try NodeProcess.executable()
        let namespace = "vivim-mdns-\(UInt32.random(in: 0...UInt32.max))"
        guard try Self.run(["netns", "add", namespace]) == 0 else { throw TestError(description: "ip netns add failed") }
        defer { _ = try? Self.run(["netns", "del", namespace]) }
        for command in [["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"], ["route", "add", "224.0.0.0/4", "dev", "lo"]] {
            guard try Self.run(["netns", "exec", namespace, Self.ip] + command) == 0 else {
                throw TestError(description: "ip \(command.joined(separator: " ")) failed in \(namespace)")
            }
        }
        let root = try TemporaryDirectory()
        let tree = root.path + "/tree"
        defer { removeTree(tree) }
        var nodes: [NodeProcess] = []
        defer { for n in nodes { _ = n.terminate() } }
        for i in 0..<3 {
            nodes.append(try NodeProcess(namespace: namespace, executable: executable, dataDirectory: tree + "/n\(i)"))
        }
        let started = nodes
        let connected = try await NodeProcessTests.waitUntil(seconds: 30) {
            started.allSatisfy { ($0.status("connected") ?? 0) >= 2 && ($0.status("known") ?? 0) >= 2 }  // connected, and in the DHT
        }
        if !connected { for (i, n) in nodes.enumerated() { print("node \(i):", n.output.joined(separator: "\n")) } }
        #expect(connected)
        let ids = Set(nodes.compactMap { $0.output.first { $0.hasPrefix("vivim node: peer id ") } })
        #expect(ids.count == 3)
        for n in nodes {
            #expect(n.terminate() == 0)
            #expect(n.output.contains("vivim node: stopped"))
        }
    }
}
