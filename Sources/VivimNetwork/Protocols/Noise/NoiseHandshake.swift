import Crypto

/// The Noise XX handshake as libp2p uses it (`/noise`, protocol name
/// `Noise_XX_25519_ChaChaPoly_SHA256`, empty prologue; libp2p/specs noise/README.md):
///
///     -> e
///     <- e, ee, s, es   + responder's libp2p payload
///     -> s, se          + initiator's libp2p payload
///
/// Sans-IO: it consumes and produces handshake message bodies (without the
/// 2-byte length prefix, see ``NoiseFrameDecoder``). Keys are injected, so tests
/// are deterministic.
public struct NoiseHandshake: Sendable {
    public static let protocolName = "Noise_XX_25519_ChaChaPoly_SHA256"
    public static let protocolID = "/noise"
    static let dhLength = 32

    public enum Role: Sendable { case initiator, responder }

    /// The outcome of a completed handshake.
    public struct Completion: Sendable {
        public let remotePeer: PeerID
        public let remoteKey: PeerPublicKey
        public let remoteStreamMuxers: [String]
        /// The cipher for messages this side sends, and the one for messages it receives.
        public let send: NoiseCipherState
        public let receive: NoiseCipherState
        public let handshakeHash: [UInt8]
    }

    private enum Stage: Sendable { case start, awaitingMessage2, awaitingMessage3, done }

    public let role: Role
    private let identity: PeerKeyPair
    private let staticKey: Curve25519.KeyAgreement.PrivateKey
    private let ephemeralKey: Curve25519.KeyAgreement.PrivateKey
    private let expectedRemote: PeerID?
    private var symmetric = NoiseSymmetricState(protocolName: NoiseHandshake.protocolName)
    private var remoteEphemeral: Curve25519.KeyAgreement.PublicKey?
    private var remoteStatic: Curve25519.KeyAgreement.PublicKey?
    private var stage: Stage = .start
    private let localMuxers: [String]

    /// - Parameters:
    ///   - expectedRemote: when dialling a known peer id, the handshake fails unless the remote proves it.
    public init(
        role: Role,
        identity: PeerKeyPair,
        staticKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        ephemeralKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        expectedRemote: PeerID? = nil,
        streamMuxers: [String] = []
    ) {
        self.role = role
        self.identity = identity
        self.staticKey = staticKey
        self.ephemeralKey = ephemeralKey
        self.expectedRemote = expectedRemote
        self.localMuxers = streamMuxers
        symmetric.mixHash([])  // empty prologue
    }

    private func dh(_ priv: Curve25519.KeyAgreement.PrivateKey, _ pub: Curve25519.KeyAgreement.PublicKey?) throws(NoiseError) -> [UInt8] {
        guard let pub else { throw .unexpectedMessage }
        do {
            return try priv.sharedSecretFromKeyAgreement(with: pub).withUnsafeBytes { Array($0) }
        } catch {
            throw .invalidPublicKey
        }
    }

    private func payload() throws(NoiseError) -> [UInt8] {
        do {
            var p = try NoiseHandshakePayload.make(identity: identity, staticPublicKey: Array(staticKey.publicKey.rawRepresentation))
            p.streamMuxers = localMuxers
            return p.encoded
        } catch {
            throw .cryptoFailure
        }
    }

    private static func publicKey(_ bytes: [UInt8]) throws(NoiseError) -> Curve25519.KeyAgreement.PublicKey {
        do { return try .init(rawRepresentation: bytes) } catch { throw .invalidPublicKey }
    }

    /// The initiator's first message (`-> e`). Only valid for the initiator, once.
    public mutating func initiate() throws(NoiseError) -> [UInt8] {
        guard role == .initiator, stage == .start else { throw .unexpectedMessage }
        let e = Array(ephemeralKey.publicKey.rawRepresentation)
        symmetric.mixHash(e)
        let body = try symmetric.encryptAndHash([])  // empty payload, no key yet: plaintext
        stage = .awaitingMessage2
        return e + body
    }

    /// Feeds one received handshake message; returns the reply to send (if any)
    /// and, once the handshake is complete, its outcome.
    public mutating func receive(_ message: [UInt8]) throws(NoiseError) -> (reply: [UInt8]?, completion: Completion?) {
        switch (role, stage) {
        case (.responder, .start):
            // <- e (read), then -> e, ee, s, es + payload
            guard message.count >= Self.dhLength else { throw .unexpectedMessage }
            let re = Array(message.prefix(Self.dhLength))
            remoteEphemeral = try Self.publicKey(re)
            symmetric.mixHash(re)
            _ = try symmetric.decryptAndHash(Array(message.dropFirst(Self.dhLength)))
            var out = Array(ephemeralKey.publicKey.rawRepresentation)
            symmetric.mixHash(out)
            symmetric.mixKey(try dh(ephemeralKey, remoteEphemeral))
            out += try symmetric.encryptAndHash(Array(staticKey.publicKey.rawRepresentation))
            symmetric.mixKey(try dh(staticKey, remoteEphemeral))
            out += try symmetric.encryptAndHash(try payload())
            stage = .awaitingMessage3
            return (out, nil)

        case (.initiator, .awaitingMessage2):
            let sLength = Self.dhLength + NoiseCipherState.tagLength
            guard message.count >= Self.dhLength + sLength + NoiseCipherState.tagLength else { throw .unexpectedMessage }
            var cursor = message[...]
            let re = Array(cursor.prefix(Self.dhLength)); cursor = cursor.dropFirst(Self.dhLength)
            remoteEphemeral = try Self.publicKey(re)
            symmetric.mixHash(re)
            symmetric.mixKey(try dh(ephemeralKey, remoteEphemeral))
            let rs = try symmetric.decryptAndHash(Array(cursor.prefix(sLength))); cursor = cursor.dropFirst(sLength)
            remoteStatic = try Self.publicKey(rs)
            symmetric.mixKey(try dh(ephemeralKey, remoteStatic))
            let remotePayload = try symmetric.decryptAndHash(Array(cursor))
            let (peer, key, muxers) = try authenticate(remotePayload, remoteStatic: rs)
            // -> s, se + payload
            var out = try symmetric.encryptAndHash(Array(staticKey.publicKey.rawRepresentation))
            symmetric.mixKey(try dh(staticKey, remoteEphemeral))
            out += try symmetric.encryptAndHash(try payload())
            stage = .done
            let (c1, c2) = symmetric.split()
            return (out, Completion(remotePeer: peer, remoteKey: key, remoteStreamMuxers: muxers,
                                    send: c1, receive: c2, handshakeHash: symmetric.handshakeHash))

        case (.responder, .awaitingMessage3):
            let sLength = Self.dhLength + NoiseCipherState.tagLength
            guard message.count >= sLength + NoiseCipherState.tagLength else { throw .unexpectedMessage }
            let rs = try symmetric.decryptAndHash(Array(message.prefix(sLength)))
            remoteStatic = try Self.publicKey(rs)
            symmetric.mixKey(try dh(ephemeralKey, remoteStatic))
            let remotePayload = try symmetric.decryptAndHash(Array(message.dropFirst(sLength)))
            let (peer, key, muxers) = try authenticate(remotePayload, remoteStatic: rs)
            stage = .done
            let (c1, c2) = symmetric.split()
            return (nil, Completion(remotePeer: peer, remoteKey: key, remoteStreamMuxers: muxers,
                                    send: c2, receive: c1, handshakeHash: symmetric.handshakeHash))

        default:
            throw .unexpectedMessage
        }
    }

    private func authenticate(_ bytes: [UInt8], remoteStatic: [UInt8]) throws(NoiseError) -> (PeerID, PeerPublicKey, [String]) {
        let payload: NoiseHandshakePayload
        do { payload = try NoiseHandshakePayload(decoding: bytes) } catch { throw .invalidPayload("\(error)") }
        let (peer, key) = try payload.verify(staticPublicKey: remoteStatic)
        if let expectedRemote, expectedRemote != peer { throw .peerIDMismatch(expected: expectedRemote, actual: peer) }
        return (peer, key, payload.streamMuxers)
    }
}

/// Noise message framing on a libp2p connection: a 2-byte big-endian length, then the message.
public enum NoiseFrame {
    public static let maxLength = 65535
    /// Largest plaintext per transport message (the ciphertext adds a 16-byte tag).
    public static let maxPlaintext = maxLength - NoiseCipherState.tagLength

    public static func encode(_ body: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard body.count <= maxLength else { throw .messageTooLong(body.count) }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 2)
        out.appendUInt16BE(UInt16(body.count))
        out += body
        return out
    }

    /// Removes one complete frame from the front of `buffer`, if present.
    public static func decode(_ buffer: inout InputBuffer) -> [UInt8]? {
        guard buffer.count >= 2 else { return nil }
        let length = Int(buffer.peek(0)) << 8 | Int(buffer.peek(1))
        guard buffer.count >= 2 + length else { return nil }
        buffer.drop(2)
        return buffer.take(length)
    }
}

/// The Noise transport phase: encrypts outgoing bytes into frames of at most
/// 65535 bytes and decrypts incoming frames.
public struct NoiseTransport: Sendable {
    private var sendCipher: NoiseCipherState
    private var receiveCipher: NoiseCipherState
    private var buffer = InputBuffer()

    public init(completion: NoiseHandshake.Completion) {
        sendCipher = completion.send
        receiveCipher = completion.receive
    }

    public mutating func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        repeat {
            let end = min(offset + NoiseFrame.maxPlaintext, plaintext.count)
            out += try NoiseFrame.encode(try sendCipher.encrypt(ad: [], plaintext: Array(plaintext[offset..<end])))
            offset = end
        } while offset < plaintext.count
        return out
    }

    /// Feeds received ciphertext; returns the plaintext of every complete frame.
    public mutating func decrypt(_ bytes: some Collection<UInt8>) throws(NoiseError) -> [UInt8] {
        buffer.append(bytes)
        var plaintext: [UInt8] = []
        while let frame = NoiseFrame.decode(&buffer) {
            plaintext += try receiveCipher.decrypt(ad: [], ciphertext: frame)
        }
        return plaintext
    }
}
