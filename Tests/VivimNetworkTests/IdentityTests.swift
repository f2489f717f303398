import Testing
import VivimCore
@testable import VivimNetwork

@Suite struct VarintTests {
    @Test func roundTripsBoundaryValues() throws {
        for v: UInt64 in [0, 1, 127, 128, 255, 300, 16383, 16384, UInt64(UInt32.max), (1 << 63) - 1] {
            let encoded = UVarint.encode(v)
            let (decoded, length) = try UVarint.decode(encoded)
            #expect(decoded == v)
            #expect(length == encoded.count)
        }
        #expect(UVarint.encode(300) == [0xAC, 0x02])
    }

    @Test func rejectsMoreThanNineBytes() {
        #expect(throws: WireError.varintOverflow) { try UVarint.decode([UInt8](repeating: 0xFF, count: 10)) }
    }

    @Test func rejectsNonMinimalEncoding() {
        #expect(throws: WireError.varintNotMinimal) { try UVarint.decode([0x81, 0x00]) }
    }

    @Test func reportsTruncation() {
        #expect(throws: WireError.truncated) { try UVarint.decode([0x80, 0x80]) }
    }
}

@Suite struct ProtobufTests {
    @Test func skipsUnknownFieldsOfEveryWireType() throws {
        var w = ProtobufWriter()
        w.writeVarint(field: 9, 42)
        w.writeBytes(field: 1, [1, 2, 3])
        var bytes = w.bytes
        bytes += [0x11] + [UInt8](repeating: 7, count: 8)  // field 2, fixed64
        bytes += [0x1D, 1, 2, 3, 4]                         // field 3, fixed32
        var reader = ProtobufReader(bytes)
        var fields: [UInt64] = []
        while let (f, _) = try reader.next() { fields.append(f) }
        #expect(fields == [9, 1, 2, 3])
    }

    @Test func rejectsGroupsAndTruncatedLengths() {
        var groups = ProtobufReader([0x0B])  // field 1, start group
        #expect(throws: WireError.unsupportedWireType(3)) { try groups.next() }
        var truncated = ProtobufReader([0x0A, 0x05, 1, 2])
        #expect(throws: WireError.truncated) { try truncated.next() }
    }

    @Test func enforcesTheFieldLimit() {
        var w = ProtobufWriter()
        for _ in 0..<10 { w.writeVarint(field: 1, 1) }
        var reader = ProtobufReader(w.bytes, maxFields: 5)
        #expect(throws: WireError.tooManyElements(limit: 5)) { while try reader.next() != nil {} }
    }

    @Test func encodesNegativeInt32AsTenBytes() {
        var w = ProtobufWriter()
        w.writeInt(field: 1, -1)
        #expect(w.bytes.count == 11)
    }
}

@Suite struct PeerIDTests {
    /// Vector computed with py-libp2p from the Ed25519 seed 00 01 … 1f.
    static let seed = (0..<32).map { UInt8($0) }
    static let expectedKey = "0801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    static let expectedID = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"

    @Test func matchesAnIndependentImplementation() throws {
        let key = try PeerKeyPair(seed: Self.seed)
        #expect(hex(key.publicKey.protobufEncoded) == Self.expectedKey)
        #expect(key.peerID.description == Self.expectedID)
        #expect(key.peerID.multihash.code == Multihash.identityCode)
    }

    @Test func parsesItsTextFormBackToTheSameKey() throws {
        let key = PeerKeyPair()
        let id = try PeerID(string: key.peerID.description)
        #expect(id == key.peerID)
        #expect(id.inlinePublicKey == key.publicKey)
        #expect(key.peerID.description.hasPrefix("12D3KooW"))
    }

    @Test func rejectsInvalidBase58AndForeignMultihashes() {
        #expect(throws: WireError.self) { try PeerID(string: "12D3KooW0OIl") }
        #expect(throws: WireError.self) { try PeerID(bytes: Multihash(code: 0x13, digest: [1, 2]).bytes) }
        #expect(throws: WireError.self) { try PeerID(bytes: [0x00, 0x03, 0x08, 0x01, 0x12]) }
    }

    @Test func base58KeepsLeadingZeros() throws {
        #expect(Base58.encode([0, 0, 1]) == "112")
        #expect(Base58.decode("112") == [0, 0, 1])
        #expect(Base58.encode(Array("hello world".utf8)) == "StV1DL6CwTryKyV")
    }

    @Test func privateKeyProtobufRoundTripsAndAcceptsSeedOnlyForm() throws {
        let key = try PeerKeyPair(seed: Self.seed)
        #expect(try PeerKeyPair(protobuf: key.protobufEncoded).peerID == key.peerID)
        let pySerialized = fromHex("08011220000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        #expect(try PeerKeyPair(protobuf: pySerialized).peerID == key.peerID)
    }

    @Test func verifiesSignatures() throws {
        let key = PeerKeyPair()
        let sig = try key.sign([1, 2, 3])
        #expect(key.publicKey.verify(signature: sig, for: [1, 2, 3]))
        #expect(!key.publicKey.verify(signature: sig, for: [1, 2, 4]))
    }
}

@Suite struct MultiaddrTests {
    @Test func encodesIPv4TCPAsTheSpecVector() throws {
        let addr = try Multiaddr("/ip4/127.0.0.1/tcp/4001")
        #expect(hex(addr.bytes) == "047f000001060fa1")
        #expect(try Multiaddr(bytes: addr.bytes) == addr)
    }

    @Test(arguments: [
        "/ip4/10.0.0.1/tcp/80",
        "/ip6/::1/tcp/4001",
        "/ip6/2001:db8::8a2e:370:7334/tcp/1",
        "/ip6/fe80::/tcp/0",
        "/dns/example.com/tcp/443",
        "/dns4/node.vivim.test/tcp/4001",
        "/dns6/localhost/tcp/9",
        "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB",
    ])
    func roundTripsTextAndBinary(_ text: String) throws {
        let addr = try Multiaddr(text)
        #expect(addr.description == text)
        #expect(try Multiaddr(bytes: addr.bytes) == addr)
    }

    @Test func normalisesIPv6AndLegacyIPFS() throws {
        #expect(try Multiaddr("/ip6/0:0:0:0:0:0:0:1/tcp/1").description == "/ip6/::1/tcp/1")
        let legacy = try Multiaddr("/ip4/1.2.3.4/tcp/1/ipfs/12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB")
        #expect(legacy.description.hasSuffix("/p2p/12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"))
        #expect(legacy.peerID?.description == "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB")
        #expect(legacy.tcpEndpoint?.host == "1.2.3.4")
    }

    @Test(arguments: ["", "ip4/1.2.3.4", "/ip4/256.0.0.1", "/ip4/1.2.3", "/ip4/01.2.3.4", "/tcp/70000",
                      "/ip6/1::2::3", "/ip6/12345::", "/udp/1", "/ip4/1.2.3.4/tcp"])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: WireError.self) { try Multiaddr(text) }
    }

    @Test func rejectsMalformedBinary() {
        #expect(throws: WireError.self) { try Multiaddr(bytes: [0x04, 127, 0]) }               // short ip4
        #expect(throws: WireError.self) { try Multiaddr(bytes: [0x35, 0x00]) }                 // empty dns
        #expect(throws: WireError.self) { try Multiaddr(bytes: [0x35, 0x05, 0x61]) }           // truncated dns
        #expect(throws: WireError.self) { try Multiaddr(bytes: [0x91, 0x02, 0x00, 0x01]) }     // udp: unsupported
        #expect(throws: WireError.self) { try Multiaddr(bytes: [UInt8](repeating: 0x06, count: 2000)) }
    }
}

@Suite struct NodeKeyStoreTests {
    @Test func createsAnOwnerOnlyFileAndReloadsTheSameIdentity() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/node.key"
        let first = try NodeKeyStore.loadOrCreate(at: path)
        #expect(try fileMode(path) == 0o600)
        let second = try NodeKeyStore.loadOrCreate(at: path)
        #expect(first.peerID == second.peerID)
    }

    @Test func refusesAKeyReadableByOthers() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/node.key"
        _ = try NodeKeyStore.loadOrCreate(at: path)
        try setFileMode(path, 0o644)
        #expect(throws: NodeKeyStore.Error.insecurePermissions(mode: 0o644)) { try NodeKeyStore.load(at: path) }
    }

    @Test func refusesACorruptFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/node.key"
        try writeFile(path, [0x08, 0x01, 0x12, 0x05, 1], mode: 0o600)
        #expect(throws: NodeKeyStore.Error.corrupt) { try NodeKeyStore.load(at: path) }
    }
}
