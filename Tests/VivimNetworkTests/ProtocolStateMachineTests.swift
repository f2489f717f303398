import Crypto
import Testing
@testable import VivimNetwork

@Suite struct MultistreamSelectTests {
    @Test func negotiatesWhenMessagesArriveOneByteAtATime() throws {
        var initiator = MultistreamSelect(role: .initiator(proposals: ["/noise"]))
        var responder = MultistreamSelect(role: .responder(supported: ["/noise"]))
        var toResponder = initiator.start()
        var toInitiator = responder.start()
        var responderResult: String?, initiatorResult: String?
        for byte in toResponder {
            let step = try responder.receive([byte])
            toInitiator += step.output
            if let p = step.negotiated { responderResult = p }
        }
        toResponder = []
        for byte in toInitiator {
            let step = try initiator.receive([byte])
            if let p = step.negotiated { initiatorResult = p }
        }
        #expect(responderResult == "/noise")
        #expect(initiatorResult == "/noise")
    }

    @Test func fallsBackToTheNextProposalAfterNA() throws {
        var initiator = MultistreamSelect(role: .initiator(proposals: ["/tls/1.0.0", "/noise"]))
        var responder = MultistreamSelect(role: .responder(supported: ["/noise"]))
        var a = initiator.start(), b = responder.start()
        var done: (String?, String?) = (nil, nil)
        for _ in 0..<4 where done.0 == nil || done.1 == nil {
            let r = try responder.receive(a); a = []
            b += r.output; done.1 = r.negotiated ?? done.1
            let i = try initiator.receive(b); b = []
            a += i.output; done.0 = i.negotiated ?? done.0
        }
        #expect(done.0 == "/noise" && done.1 == "/noise")
    }

    @Test func returnsEarlyDataAfterTheAcceptance() throws {
        var initiator = MultistreamSelect(role: .initiator(proposals: ["/ipfs/id/1.0.0"]))
        _ = initiator.start()
        let reply = MultistreamSelect.encode(MultistreamSelect.header) + MultistreamSelect.encode("/ipfs/id/1.0.0") + [9, 9]
        let step = try initiator.receive(reply)
        #expect(step.negotiated == "/ipfs/id/1.0.0")
        #expect(step.remainder == [9, 9])
    }

    @Test func failsWhenNothingIsSupported() throws {
        var initiator = MultistreamSelect(role: .initiator(proposals: ["/a"]))
        _ = initiator.start()
        #expect(throws: MultistreamSelect.Error.noProtocolAgreed) {
            try initiator.receive(MultistreamSelect.encode(MultistreamSelect.header) + MultistreamSelect.encode("na"))
        }
    }

    @Test func rejectsAWrongHeaderAndOversizedMessages() {
        var responder = MultistreamSelect(role: .responder(supported: ["/a"]))
        #expect(throws: MultistreamSelect.Error.wrongHeader("/multistream/2.0.0")) {
            try responder.receive(MultistreamSelect.encode("/multistream/2.0.0"))
        }
        var other = MultistreamSelect(role: .responder(supported: ["/a"]))
        #expect(throws: MultistreamSelect.Error.self) { try other.receive(UVarint.encode(5000)) }
        var unterminated = MultistreamSelect(role: .responder(supported: ["/a"]))
        #expect(throws: MultistreamSelect.Error.self) { try unterminated.receive(VarintFrame.encode(Array("/multistream/1.0.0".utf8))) }
    }
}

@Suite struct NoiseTests {
    struct Pair {
        var initiator: NoiseHandshake
        var responder: NoiseHandshake
        let initiatorIdentity = PeerKeyPair()
        let responderIdentity = PeerKeyPair()
    }

    func handshake(expected: PeerID? = nil) throws -> (NoiseHandshake.Completion, NoiseHandshake.Completion, PeerKeyPair, PeerKeyPair) {
        let a = PeerKeyPair(), b = PeerKeyPair()
        var i = NoiseHandshake(role: .initiator, identity: a, expectedRemote: expected ?? b.peerID)
        var r = NoiseHandshake(role: .responder, identity: b)
        let m1 = try i.initiate()
        #expect(m1.count == 32)
        let (m2, none) = try r.receive(m1)
        #expect(none == nil)
        let (m3, iDone) = try i.receive(m2!)
        let (nothing, rDone) = try r.receive(m3!)
        #expect(nothing == nil)
        return (iDone!, rDone!, a, b)
    }

    @Test func authenticatesBothPeersAndAgreesOnTheHandshakeHash() throws {
        let (i, r, a, b) = try handshake()
        #expect(i.remotePeer == b.peerID)
        #expect(r.remotePeer == a.peerID)
        #expect(i.handshakeHash == r.handshakeHash)
    }

    @Test func transportMessagesRoundTripInBothDirections() throws {
        let (i, r, _, _) = try handshake()
        var ti = NoiseTransport(completion: i), tr = NoiseTransport(completion: r)
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var rng = TestRNG(seed: 1)
        var received: [UInt8] = []
        for chunk in randomSplits(try ti.encrypt(big), rng: &rng) { received += try tr.decrypt(chunk) }
        #expect(received == big)
        #expect(try ti.decrypt(tr.encrypt([1, 2, 3])) == [1, 2, 3])
    }

    @Test func aTamperedTransportMessageFailsAuthentication() throws {
        let (i, r, _, _) = try handshake()
        var ti = NoiseTransport(completion: i), tr = NoiseTransport(completion: r)
        var frame = try ti.encrypt([1, 2, 3, 4])
        frame[3] ^= 0x01
        #expect(throws: NoiseError.decryptionFailed) { try tr.decrypt(frame) }
    }

    @Test func rejectsAResponderThatIsNotTheExpectedPeer() throws {
        let impostor = PeerKeyPair().peerID
        #expect(throws: NoiseError.self) { try handshake(expected: impostor) }
    }

    @Test func rejectsAPayloadSignedForAnotherStaticKey() throws {
        let identity = PeerKeyPair()
        let payload = try NoiseHandshakePayload.make(identity: identity, staticPublicKey: [UInt8](repeating: 1, count: 32))
        #expect(throws: NoiseError.invalidSignature) { try payload.verify(staticPublicKey: [UInt8](repeating: 2, count: 32)) }
        #expect(try payload.verify(staticPublicKey: [UInt8](repeating: 1, count: 32)).0 == identity.peerID)
    }

    @Test func cipherStateUsesTheNoiseNonceLayout() throws {
        // Noise §5.1 + §12.3: nonce = 4 zero bytes ‖ little-endian counter. Check against swift-crypto directly.
        let key = [UInt8](repeating: 0x42, count: 32)
        var cs = NoiseCipherState(key: key)
        _ = try cs.encrypt(ad: [], plaintext: [0])
        let second = try cs.encrypt(ad: [7], plaintext: [1, 2, 3])
        let nonce = try ChaChaPoly.Nonce(data: [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        let expected = try ChaChaPoly.seal([1, 2, 3] as [UInt8], using: SymmetricKey(data: key), nonce: nonce, authenticating: [7] as [UInt8])
        #expect(second == Array(expected.ciphertext) + Array(expected.tag))
    }

    @Test func hkdfMatchesRFC5869Construction() {
        // Noise HKDF(ck, ikm) equals RFC 5869 HKDF-SHA256 with salt = ck, empty info, 64 bytes.
        let ck = [UInt8](repeating: 3, count: 32), ikm = [UInt8](repeating: 9, count: 32)
        let (a, b) = NoiseSymmetricState.hkdf(chainingKey: ck, ikm: ikm)
        let reference = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: ikm), salt: ck, info: [UInt8](), outputByteCount: 64)
        #expect(a + b == reference.withUnsafeBytes { Array($0) })
    }

    @Test func rejectsGarbageHandshakeMessages() {
        var r = NoiseHandshake(role: .responder, identity: PeerKeyPair())
        #expect(throws: NoiseError.self) { try r.receive([1, 2, 3]) }
        var i = NoiseHandshake(role: .initiator, identity: PeerKeyPair())
        _ = try? i.initiate()
        #expect(throws: NoiseError.self) { try i.receive([UInt8](repeating: 5, count: 200)) }
    }
}

@Suite struct YamuxTests {
    /// Moves bytes between two sessions until both are quiet; returns the events of each side.
    @discardableResult
    static func pump(_ a: inout YamuxSession, _ b: inout YamuxSession, rng: inout TestRNG) throws -> ([YamuxSession.Event], [YamuxSession.Event]) {
        var ea: [YamuxSession.Event] = [], eb: [YamuxSession.Event] = []
        for _ in 0..<1000 {
            let toB = a.takeOutput(), toA = b.takeOutput()
            if toA.isEmpty && toB.isEmpty { return (ea, eb) }
            for chunk in randomSplits(toB, rng: &rng) { eb += try b.receive(chunk) }
            for chunk in randomSplits(toA, rng: &rng) { ea += try a.receive(chunk) }
        }
        throw TestError(description: "sessions did not quiesce")
    }

    @Test func headerHasTheSpecLayout() throws {
        let h = YamuxHeader(type: .windowUpdate, flags: [.syn, .fin], streamID: 3, length: 0x01020304)
        #expect(h.encoded == [0, 1, 0, 5, 0, 0, 0, 3, 1, 2, 3, 4])
        #expect(try YamuxHeader(decoding: h.encoded) == h)
        #expect(throws: YamuxError.self) { try YamuxHeader(decoding: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: YamuxError.self) { try YamuxHeader(decoding: [0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test func clientStreamsAreOddAndServerStreamsEven() throws {
        var c = YamuxSession(role: .client), s = YamuxSession(role: .server)
        #expect(try c.openStream() == 1)
        #expect(try c.openStream() == 3)
        #expect(try s.openStream() == 2)
    }

    @Test func opensStreamsExchangesDataAndHalfCloses() throws {
        var c = YamuxSession(role: .client), s = YamuxSession(role: .server)
        var rng = TestRNG(seed: 7)
        let id = try c.openStream()
        try c.write(id, Array("hello".utf8))
        _ = c.closeWrite(id)
        let (_, serverEvents) = try Self.pump(&c, &s, rng: &rng)
        #expect(serverEvents.first == .streamOpened(id))
        let data = serverEvents.compactMap { if case .data(_, let d) = $0 { d } else { nil } }.flatMap { $0 }
        #expect(data == Array("hello".utf8))
        #expect(serverEvents.contains(.remoteClosed(id)))
        try s.write(id, [1, 2])
        let finished = s.closeWrite(id)
        #expect(finished == [.streamFinished(id)])
        let (clientEvents, _) = try Self.pump(&c, &s, rng: &rng)
        #expect(clientEvents.contains(.data(id, [1, 2])))
        #expect(clientEvents.contains(.streamFinished(id)))
        #expect(c.openStreamCount == 0 && s.openStreamCount == 0)
    }

    @Test func senderStopsAtThePeersWindowUntilCreditReturns() throws {
        var c = YamuxSession(role: .client), s = YamuxSession(role: .server)
        var rng = TestRNG(seed: 9)
        let id = try c.openStream()
        let payload = [UInt8](repeating: 0xAB, count: Int(YamuxSession.initialWindow) + 100_000)
        try c.write(id, payload)
        let (_, first) = try Self.pump(&c, &s, rng: &rng)
        let delivered = first.reduce(0) { if case .data(_, let d) = $1 { $0 + d.count } else { $0 } }
        #expect(delivered == Int(YamuxSession.initialWindow))
        #expect(c.pendingSendBytes(id) == 100_000)
        s.consumed(id, count: delivered)
        let (clientEvents, second) = try Self.pump(&c, &s, rng: &rng)
        let rest = second.reduce(0) { if case .data(_, let d) = $1 { $0 + d.count } else { $0 } }
        #expect(rest == 100_000)
        #expect(clientEvents.contains(.writable(id)))
    }

    @Test func aPeerExceedingTheReceiveWindowIsAProtocolError() throws {
        var s = YamuxSession(role: .server)
        var bytes = YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).encoded
        bytes += YamuxHeader(type: .data, streamID: 1, length: YamuxSession.initialWindow + 1).encoded
        #expect(throws: YamuxError.receiveWindowExceeded(1)) { try s.receive(bytes) }
        let goAway = YamuxHeader(type: .goAway, streamID: 0, length: YamuxGoAwayCode.protocolError.rawValue).encoded
        #expect(s.takeOutput().suffix(12) == goAway[...])
    }

    @Test func rejectsStreamIdsOfTheWrongParity() throws {
        var s = YamuxSession(role: .server)
        #expect(throws: YamuxError.self) { try s.receive(YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 2, length: 0).encoded) }
    }

    @Test func answersPingsAndReportsPongs() throws {
        var c = YamuxSession(role: .client), s = YamuxSession(role: .server)
        var rng = TestRNG(seed: 3)
        c.ping(77)
        let (events, _) = try Self.pump(&c, &s, rng: &rng)
        #expect(events == [.pong(77)])
    }

    @Test func resetRemovesTheStreamOnBothSides() throws {
        var c = YamuxSession(role: .client), s = YamuxSession(role: .server)
        var rng = TestRNG(seed: 4)
        let id = try c.openStream()
        try Self.pump(&c, &s, rng: &rng)
        c.reset(id)
        let (_, events) = try Self.pump(&c, &s, rng: &rng)
        #expect(events == [.reset(id)])
        #expect(s.openStreamCount == 0)
    }

    @Test func refusesStreamsBeyondTheLimitWithReset() throws {
        var config = YamuxSession.Configuration()
        config.maxStreams = 1
        var s = YamuxSession(role: .server, configuration: config)
        _ = try s.receive(YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).encoded)
        _ = s.takeOutput()
        let events = try s.receive(YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 3, length: 0).encoded)
        #expect(events.isEmpty)
        #expect(try YamuxHeader(decoding: s.takeOutput()).flags.contains(.rst))
    }
}

@Suite struct SecureConnectionTests {
    @Test func upgradesAndMultiplexesOverArbitrarilySplitBytes() throws {
        let a = PeerKeyPair(), b = PeerKeyPair()
        var dialer = SecureConnection(role: .dialer, identity: a, expectedRemote: b.peerID)
        var listener = SecureConnection(role: .listener, identity: b)
        dialer.start(); listener.start()
        var rng = TestRNG(seed: 11)
        var dEvents: [SecureConnection.Event] = [], lEvents: [SecureConnection.Event] = []
        func pump() throws {
            for _ in 0..<100 {
                let toL = dialer.takeOutput(), toD = listener.takeOutput()
                if toL.isEmpty && toD.isEmpty { return }
                for c in randomSplits(toL, rng: &rng) { lEvents += try listener.receive(c) }
                for c in randomSplits(toD, rng: &rng) { dEvents += try dialer.receive(c) }
            }
        }
        try pump()
        #expect(dEvents.prefix(2) == [.authenticated(b.peerID), .ready])
        #expect(lEvents.prefix(2) == [.authenticated(a.peerID), .ready])
        let s1 = try dialer.withSession { s throws(YamuxError) in try s.openStream() }
        let s2 = try listener.withSession { s throws(YamuxError) in try s.openStream() }
        try dialer.withSession { s throws(YamuxError) in try s.write(s1, [1, 2, 3]) }
        try listener.withSession { s throws(YamuxError) in try s.write(s2, [4]) }
        try pump()
        #expect(lEvents.contains(.stream(.data(s1, [1, 2, 3]))))
        #expect(dEvents.contains(.stream(.data(s2, [4]))))
    }

    @Test func failsWhenTheListenerIsNotTheExpectedPeer() throws {
        var dialer = SecureConnection(role: .dialer, identity: PeerKeyPair(), expectedRemote: PeerKeyPair().peerID)
        var listener = SecureConnection(role: .listener, identity: PeerKeyPair())
        dialer.start(); listener.start()
        var failed = false
        for _ in 0..<10 {
            _ = try listener.receive(dialer.takeOutput())
            do { _ = try dialer.receive(listener.takeOutput()) } catch { failed = true; break }
        }
        #expect(failed)
    }
}
