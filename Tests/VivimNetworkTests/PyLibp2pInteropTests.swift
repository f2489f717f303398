import Foundation
import Synchronization
import Testing
@testable import VivimNetwork

/// Interop with an independent libp2p implementation, py-libp2p (PyPI `libp2p`),
/// over real loopback sockets: Noise + yamux, identify and ping, both directions.
///
/// Requires `python3` with `libp2p` installed (the project's test script runs
/// `pip install libp2p`); `VIVIM_PYTHON` selects another interpreter. The test
/// fails, rather than skips, when they are missing.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PyLibp2pInteropTests {
    static let script = PyProcess.script("py_peer.py")

    struct PyResult: Decodable {
        struct Identify: Decodable {
            let agentVersion: String
            let protocolVersion: String
            let protocols: [String]
            let publicKeyMatches: Bool
            let listenAddrs: [String]
        }
        let local: String
        let remote: String
        enum CodingKeys: String, CodingKey { case local = "self", remote, identify, ping }
        let identify: Identify
        let ping: [Double]
    }

    static func makeHost() -> P2PHost { P2PHost(identity: PeerKeyPair()) }

    @Test func vivimDialsPyLibp2pAndBothIdentifyAndPing() async throws {
        try PyProcess.requirePyLibp2p()
        let peer = try PyProcess([Self.script, "listen"])
        defer { peer.stop() }
        let host = Self.makeHost()
        try await host.listen()
        let address = try Multiaddr(try await peer.line("LISTEN"))
        let conn = try await host.dial(address)
        #expect(conn.remotePeer == address.peerID)

        let info = try await conn.identify()
        #expect(info.publicKey?.peerID == address.peerID)
        #expect(info.protocols.contains(PingProtocol.protocolID))
        #expect(info.agentVersion?.isEmpty == false)
        for _ in 0..<3 { _ = try await conn.ping() }

        // py-libp2p then opens its own streams on the connection VIVIM dialled.
        let result = try JSONDecoder().decode(PyResult.self, from: Data(try await peer.line("RESULT").utf8))
        #expect(result.remote == host.peerID.description)
        #expect(result.identify.publicKeyMatches)
        #expect(result.identify.agentVersion == "vivim/0.1.0")
        #expect(result.identify.protocols.contains(IdentifyMessage.protocolID))
        #expect(result.ping.count == 3)
        await host.shutdown()
    }

    @Test func pyLibp2pDialsVivimAndIdentifiesAndPings() async throws {
        try PyProcess.requirePyLibp2p()
        let host = Self.makeHost()
        let address = try await host.listen()
        let peer = try PyProcess([Self.script, "dial", address.description])
        defer { peer.stop() }
        let result = try JSONDecoder().decode(PyResult.self, from: Data(try await peer.line("RESULT").utf8))
        #expect(result.remote == host.peerID.description)
        #expect(result.identify.publicKeyMatches)
        #expect(result.identify.protocols.contains(PingProtocol.protocolID))
        #expect(result.identify.listenAddrs == [address.withoutPeerID.description])
        #expect(result.ping.count == 3)
        #expect(try host.connections(to: PeerID(string: result.local)).isEmpty == false)
        await host.shutdown()
    }
}
