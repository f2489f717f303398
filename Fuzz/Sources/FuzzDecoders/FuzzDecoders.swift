import VivimNetwork

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The decoder selected by `FUZZ_TARGET` (default: all of them on every input).
let target: String = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "all"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let all = target == "all"
    if all || target == "kad" { _ = try? KadMessage(decoding: bytes) }
    if all || target == "identify" { _ = try? IdentifyMessage(stream: bytes) }
    if all || target == "noise-payload" { _ = try? NoiseHandshakePayload(decoding: bytes) }
    if all || target == "multiaddr" { _ = try? Multiaddr(bytes: bytes); _ = try? Multiaddr(String(decoding: bytes, as: UTF8.self)) }
    if all || target == "peerid" { _ = try? PeerID(bytes: bytes); _ = try? PeerPublicKey(protobuf: bytes) }
    if all || target == "multistream" {
        var m = MultistreamSelect(role: .responder(supported: ["/noise"]))
        _ = try? m.receive(bytes)
    }
    if all || target == "yamux" {
        var s = YamuxSession(role: .server)
        _ = try? s.receive(bytes)
    }
    if all || target == "pubsub" {
        if let rpc = try? PubSubRPC(decoding: bytes) {
            var router = GossipsubRouter(identity: fuzzIdentity)
            let peer = fuzzIdentity.peerID
            _ = router.addPeer(peer)
            _ = router.handle(rpc, from: peer, now: .zero)
        }
    }
    if all || target == "content" {
        _ = try? ContentTransferProtocol.decodeRequest(bytes)
        _ = try? ContentTransferProtocol.decodeResponse(bytes)
        _ = try? ReplicationProtocol.decodeRequest(bytes)
        _ = try? ReplicationProtocol.decodeResponse(bytes)
    }
    if all || target == "dns" {
        _ = try? DNSMessage(decoding: bytes)
        _ = fuzzDiscovery.receive(bytes, now: .zero)
    }
    if all || target == "connection" {
        var c = SecureConnection(role: .listener, identity: fuzzIdentity)
        c.start()
        _ = try? c.receive(bytes)
    }
    return 0
}

let fuzzIdentity = try! PeerKeyPair(seed: [UInt8](repeating: 7, count: 32))

/// The mDNS state machine fed every input (its peer table is capped, so it stays small).
nonisolated(unsafe) var fuzzDiscovery: MDNSDiscovery = {
    var rng = SystemRandomNumberGenerator()
    return MDNSDiscovery(localPeer: fuzzIdentity.peerID, listenAddresses: [try! Multiaddr("/ip4/10.0.0.1/tcp/4001")], rng: &rng)
}()

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer's driver.
@_cdecl("FuzzDecoders_main")
func fuzzDecodersMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
