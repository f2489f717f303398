import Testing
@testable import VivimNetwork

/// Kademlia across implementations: a VIVIM `DHTService` and py-libp2p's
/// `KadDHT` exchange FIND_NODE, ADD_PROVIDER and GET_PROVIDERS over Noise + yamux.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PyLibp2pKadInteropTests {
    static func key(_ text: String) -> [UInt8] { Multihash.sha256(Array(text.utf8)).bytes }

    @Test func kademliaRequestsWorkInBothDirections() async throws {
        try PyProcess.requirePyLibp2p()
        let host = P2PHost(identity: PeerKeyPair())
        let address = try await host.listen()
        var config = DHTService.Configuration()
        config.kademlia.requestTimeout = .seconds(10)
        let dht = DHTService(host: host, configuration: config)
        await dht.start()
        let py = try PyProcess([PyProcess.script("py_kad.py"), address.description])
        defer { py.stop() }

        let pyAddress = try Multiaddr(try await py.line("READY"))
        let pyPeer = try #require(pyAddress.peerID)
        await dht.addPeer(pyPeer, addrs: [pyAddress])

        // VIVIM → py: FIND_NODE is answered by py-libp2p.
        let found = try await dht.findNode(Self.key("find me"))
        #expect(found.closest.contains(pyPeer))

        // py → VIVIM: ADD_PROVIDER is accepted because py is the authenticated sender.
        let pyKey = Self.key("provided by py")
        try py.send("provide \(hex(pyKey))")
        #expect(try await py.line("OK") == "True")
        var stored: [PeerID] = []
        for _ in 0..<100 where stored.isEmpty {
            stored = await dht.providers(storedFor: pyKey)
            if stored.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(stored == [pyPeer])

        // VIVIM → py: ADD_PROVIDER is stored by py-libp2p …
        let vivimKey = Self.key("provided by vivim")
        _ = try await dht.provide(vivimKey)
        var local = ""
        for _ in 0..<100 {
            try py.send("localprov \(hex(vivimKey))")
            local = try await py.line("PROVIDERS")
            if local.contains(host.peerID.description) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(local.contains(host.peerID.description))
        // … and py's GET_PROVIDERS lookup through VIVIM finds it.
        try py.send("findprov \(hex(vivimKey))")
        #expect(try await py.line("PROVIDERS").contains(host.peerID.description))

        // py → VIVIM: FIND_NODE is answered by VIVIM.
        try py.send("findnode \(hex(Self.key("anything")))")
        #expect(try await py.line("PEERS").contains(host.peerID.description))

        // VIVIM → py: GET_PROVIDERS lookup that must ask py (VIVIM holds one record, wants two).
        let providers = try await dht.findProviders(pyKey, wanted: 2)
        #expect(providers.map(\.id).contains(pyPeer))

        await dht.stop()
        await host.shutdown()
    }
}
