/// The libp2p Noise handshake payload (libp2p/specs noise/README.md §"The libp2p Handshake Payload"):
/// `NoiseHandshakePayload { bytes identity_key = 1; bytes identity_sig = 2; NoiseExtensions extensions = 4; }`.
/// The signature is the identity key's signature over
/// `"noise-libp2p-static-key:" ‖ static X25519 public key`.
public struct NoiseHandshakePayload: Sendable, Equatable {
    public static let signaturePrefix = Array("noise-libp2p-static-key:".utf8)
    public static let maxLength = 4096

    public var identityKey: [UInt8]
    public var identitySignature: [UInt8]
    /// `NoiseExtensions.stream_muxers` (field 2), advertised for early muxer negotiation.
    public var streamMuxers: [String]

    public init(identityKey: [UInt8], identitySignature: [UInt8], streamMuxers: [String] = []) {
        self.identityKey = identityKey
        self.identitySignature = identitySignature
        self.streamMuxers = streamMuxers
    }

    public static func make(identity: PeerKeyPair, staticPublicKey: [UInt8]) throws -> NoiseHandshakePayload {
        NoiseHandshakePayload(
            identityKey: identity.publicKey.protobufEncoded,
            identitySignature: try identity.sign(signaturePrefix + staticPublicKey))
    }

    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, identityKey)
        w.writeBytes(field: 2, identitySignature)
        if !streamMuxers.isEmpty {
            var ext = ProtobufWriter()
            for m in streamMuxers { ext.writeString(field: 2, m) }
            w.writeBytes(field: 4, ext.bytes)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maxLength else {
            throw .lengthExceedsLimit(length: UInt64(bytes.count), limit: Self.maxLength)
        }
        var reader = ProtobufReader(bytes, maxFields: 16)
        var key: [UInt8]?, sig: [UInt8]?
        var muxers: [String] = []
        while let (field, value) = try reader.next() {
            switch field {
            case 1: key = try value.data(field: 1)
            case 2: sig = try value.data(field: 2)
            case 4:
                var ext = ProtobufReader(try value.data(field: 4), maxFields: 32)
                while let (f, v) = try ext.next() {
                    if f == 2 { muxers.append(try v.string(field: 2)) }
                }
            default: continue
            }
        }
        guard let key else { throw .missingField("identity_key") }
        guard let sig else { throw .missingField("identity_sig") }
        self.init(identityKey: key, identitySignature: sig, streamMuxers: muxers)
    }

    /// Checks the signature over `staticPublicKey` and returns the authenticated peer.
    public func verify(staticPublicKey: [UInt8]) throws(NoiseError) -> (PeerID, PeerPublicKey) {
        let key: PeerPublicKey
        do { key = try PeerPublicKey(protobuf: identityKey) } catch { throw .invalidPayload("identity key: \(error)") }
        guard key.verify(signature: identitySignature, for: Self.signaturePrefix + staticPublicKey) else {
            throw .invalidSignature
        }
        return (key.peerID, key)
    }
}
