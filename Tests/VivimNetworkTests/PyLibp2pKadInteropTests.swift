import Testing
@testable import VivimNetwork

/// Kademlia across implementations: a VIVIM `DHTService` and py-libp2p's `KadDHT`
/// (server mode) over Noise + yamux, in both dial directions.
///
/// Each assertion can only hold if VIVIM's side did its part: py-libp2p answers a
/// lookup from its local stores first and keeps peers that failed to answer in its
/// FIND_NODE result, so every py lookup here starts from empty stores and looks for
/// something only VIVIM's answer can supply (honesty audit item 1.4.2).
@Suite(.serialized, .timeLimit(.minutes(3))) struct PyLibp2pKadInteropTests {
    static func key(_ text: String) -> [UInt8] { Multihash.sha256(Array(text.utf8)).bytes }

    struct Vivim {
        let host: P2PHost
        let dht: DHTService
        let address: Multiaddr

        static func start() async throws -> Vivim {
            let host = P2PHost(identity: PeerKeyPair())
            let address = try await host.listen()
            var config = DHTService.Configuration()
            config.kademlia.requestTimeout = .seconds(10)
            let dht = DHTService(host: host, configuration: config)
            await dht.start()
            return Vivim(host: host, dht: dht, address: address)
        }

        func stop() async {
            await dht.stop()
            await host.shutdown()
        }
    }

    static func ids(_ line: String) -> Set<String> { Set(line.split(separator: ",").map(String.init)) }

    /// py → VIVIM: a fresh py client with empty stores and only VIVIM in its routing
    /// table finds VIVIM's provider record (GET_PROVIDERS answered by VIVIM) and a peer
    /// only VIVIM knows (FIND_NODE answered by VIVIM).
    @Test func aFreshPyClientFindsProvidersAndPeersThatOnlyVivimKnows() async throws {
        try PyProcess.requirePyLibp2p()
        let vivim = try await Vivim.start()
        // Provided while VIVIM knows nobody: the record lives on VIVIM alone.
        let provided = Self.key("provided by vivim only")
        _ = try await vivim.dht.provide(provided)
        #expect(await vivim.dht.providers(storedFor: provided) == [vivim.host.peerID])
        // A second VIVIM node that only the first one knows.
        let other = try await Vivim.start()
        await vivim.dht.addPeer(other.host.peerID, addrs: [other.address])

        let py = try PyProcess([PyProcess.script("py_kad.py"), vivim.address.description])
        defer { py.stop() }
        _ = try await py.line("READY")
        // py holds no provider record, and `other` has never talked to py: only VIVIM's
        // answers can name either (py's own table refresh learns peers by asking VIVIM too).
        try py.send("localprov \(hex(provided))")
        #expect(try await py.line("PROVIDERS") == "")

        try py.send("findprov \(hex(provided))")
        #expect(Self.ids(try await py.line("PROVIDERS")).contains(vivim.host.peerID.description))
        try py.send("findnode \(hex(Self.key("anything")))")
        #expect(Self.ids(try await py.line("PEERS")).contains(other.host.peerID.description))

        await other.stop()
        await vivim.stop()
    }

    /// py → VIVIM → py: one py client puts its public-key record (`/pk/`, PUT_VALUE with
    /// the type field omitted, as proto3 encodes it) on VIVIM and exits; a second, fresh py
    /// client gets it from VIVIM. A value outside VIVIM's namespaces is refused.
    @Test func aValuePutByOnePyClientIsServedToAnother() async throws {
        try PyProcess.requirePyLibp2p()
        let vivim = try await Vivim.start()

        let writer = try PyProcess([PyProcess.script("py_kad.py"), vivim.address.description])
        _ = try await writer.line("READY")
        try writer.send("putpk -")
        let put = try await writer.line("OK").split(separator: " ").map(String.init)
        let key = try #require(put.count == 2 ? unhex(put[0]) : nil), value = try #require(unhex(put[1]))
        #expect(await vivim.dht.value(storedFor: key) == value)
        let foreign = Array("/myapp/anything".utf8)
        try writer.send("putvalue \(hex(foreign)) 010203")
        _ = try await writer.line("OK")
        #expect(await vivim.dht.value(storedFor: foreign) == nil)
        writer.stop()

        let reader = try PyProcess([PyProcess.script("py_kad.py"), vivim.address.description])
        defer { reader.stop() }
        _ = try await reader.line("READY")
        try reader.send("localvalue \(hex(key))")
        #expect(try await reader.line("VALUE") == "NONE")
        try reader.send("getvalue \(hex(key))")
        #expect(try await reader.line("VALUE") == hex(value))
        await vivim.stop()
    }

    /// ADD_PROVIDER both ways on a connection py dialled.
    @Test func providerRecordsAreStoredInBothDirections() async throws {
        try PyProcess.requirePyLibp2p()
        let vivim = try await Vivim.start()
        let py = try PyProcess([PyProcess.script("py_kad.py"), vivim.address.description])
        defer { py.stop() }
        let pyAddress = try Multiaddr(try await py.line("READY"))
        let pyPeer = try #require(pyAddress.peerID)
        await vivim.dht.addPeer(pyPeer, addrs: [pyAddress])

        // py → VIVIM: ADD_PROVIDER is accepted because py is the authenticated sender.
        let pyKey = Self.key("provided by py")
        try py.send("provide \(hex(pyKey))")
        #expect(try await py.line("OK") == "True")
        var stored: [PeerID] = []
        for _ in 0..<100 where stored.isEmpty {
            stored = await vivim.dht.providers(storedFor: pyKey)
            if stored.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(stored == [pyPeer])

        // VIVIM → py: ADD_PROVIDER is stored by py-libp2p.
        let vivimKey = Self.key("provided by vivim")
        _ = try await vivim.dht.provide(vivimKey)
        var local = ""
        for _ in 0..<100 {
            try py.send("localprov \(hex(vivimKey))")
            local = try await py.line("PROVIDERS")
            if local.contains(vivim.host.peerID.description) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(local.contains(vivim.host.peerID.description))
        await vivim.stop()
    }

    /// VIVIM → py on a connection VIVIM dials: FIND_NODE must be answered by py (only
    /// answering peers count as closest), and GET_PROVIDERS finds a record py holds
    /// locally and never announced, so only py's answer can supply it.
    @Test func vivimDialsPyAndQueriesIt() async throws {
        try PyProcess.requirePyLibp2p()
        let vivim = try await Vivim.start()
        let py = try PyProcess([PyProcess.script("py_kad.py"), "listen"])
        defer { py.stop() }
        let pyAddress = try Multiaddr(try await py.line("READY"))
        let pyPeer = try #require(pyAddress.peerID)
        #expect(vivim.host.connections(to: pyPeer).isEmpty)
        await vivim.dht.addPeer(pyPeer, addrs: [pyAddress])

        let found = try await vivim.dht.findNode(Self.key("find me"))
        #expect(found.closest.contains(pyPeer))
        #expect(!vivim.host.connections(to: pyPeer).isEmpty)

        let onlyPy = Self.key("held by py alone")
        try py.send("addlocalprov \(hex(onlyPy))")
        _ = try await py.line("OK")
        let providers = try await vivim.dht.findProviders(onlyPy)
        #expect(providers.map(\.id).contains(pyPeer))
        #expect(await vivim.dht.providers(storedFor: onlyPy).isEmpty)
        await vivim.stop()
    }
}

private func unhex(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let b = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}
