/// The record namespaces a VIVIM DHT node stores for other peers (PUT_VALUE), each
/// with its validator, as libp2p record validators do (kad-dht spec §"Value storage
/// and retrieval"; go-libp2p-record). A key outside these namespaces is refused:
/// the node never stores unvalidated bytes for a stranger (security review finding 5).
public enum KadRecordNamespace: Sendable, Equatable {
    /// `/vivim/record/<contentId>`: a ``ContentRecord`` whose every provider signature
    /// verifies; merged with the stored record of the same content.
    case content
    /// `/pk/<peer id>`: the protobuf-encoded public key of that peer id (the libp2p
    /// public-key record). The key is self-certifying, so anyone may store it and no
    /// value can replace another. go-libp2p writes the peer id's raw bytes after the
    /// prefix, py-libp2p (whose keys are strings) their lowercase hex: both are accepted.
    case publicKey

    public static let publicKeyPrefix = Array("/pk/".utf8)

    public init?(key: [UInt8]) {
        if key.starts(with: ContentRecord.keyPrefix) { self = .content }
        else if key.starts(with: Self.publicKeyPrefix) { self = .publicKey }
        else { return nil }
    }

    /// The value to store under `key` (the canonical or merged form), or nil to refuse.
    static func validated(key: [UInt8], value: [UInt8], existing: [UInt8]?) -> [UInt8]? {
        switch KadRecordNamespace(key: key) {
        case .content:
            guard let incoming = try? ContentRecord(decoding: value), incoming.key == key, incoming.isValid() else { return nil }
            guard let existing, let stored = try? ContentRecord(decoding: existing) else { return incoming.encoded }
            return ContentRecord.merge(stored, incoming).encoded
        case .publicKey:
            guard let peer = publicKeyRecordPeer(key), let publicKey = try? PeerPublicKey(protobuf: value),
                  PeerID(publicKey: publicKey) == peer else { return nil }
            return publicKey.protobufEncoded
        case nil:
            return nil
        }
    }

    /// The peer id named by a `/pk/` key, in either the raw (go) or the hex (py) form.
    static func publicKeyRecordPeer(_ key: [UInt8]) -> PeerID? {
        let suffix = Array(key.dropFirst(publicKeyPrefix.count))
        // Raw peer ids start with 0x00 or 0x12, never with an ASCII hex digit.
        if let bytes = unhex(suffix), let peer = try? PeerID(bytes: bytes) { return peer }
        return try? PeerID(bytes: suffix)
    }
}
