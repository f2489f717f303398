import Crypto

/// Noise `CipherState` for ChaChaPoly (Noise Protocol Framework rev. 34, §5.1 and §12.3):
/// a 32-byte key and a 64-bit counter; the 96-bit nonce is 4 zero bytes followed
/// by the counter in little-endian order. All cryptography is swift-crypto's.
public struct NoiseCipherState: Sendable {
    public static let tagLength = 16
    private var key: SymmetricKey?
    private var nonce: UInt64 = 0

    public init(key: [UInt8]? = nil) {
        self.key = key.map { SymmetricKey(data: $0) }
    }

    public var hasKey: Bool { key != nil }

    private func nonceBytes() throws -> ChaChaPoly.Nonce {
        var n = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: nonce.littleEndian) { n.append(contentsOf: $0) }
        return try ChaChaPoly.Nonce(data: n)
    }

    /// `EncryptWithAd`; returns the plaintext unchanged while no key is set.
    public mutating func encrypt(ad: [UInt8], plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        guard nonce < UInt64.max else { throw .nonceExhausted }
        do {
            let box = try ChaChaPoly.seal(plaintext, using: key, nonce: nonceBytes(), authenticating: ad)
            nonce += 1
            return Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw .cryptoFailure
        }
    }

    /// `DecryptWithAd`; a failed authentication leaves the counter unchanged and throws.
    public mutating func decrypt(ad: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        guard nonce < UInt64.max else { throw .nonceExhausted }
        guard ciphertext.count >= Self.tagLength else { throw .decryptionFailed }
        do {
            let box = try ChaChaPoly.SealedBox(
                nonce: nonceBytes(),
                ciphertext: ciphertext.dropLast(Self.tagLength),
                tag: ciphertext.suffix(Self.tagLength))
            let plain = try ChaChaPoly.open(box, using: key, authenticating: ad)
            nonce += 1
            return Array(plain)
        } catch {
            throw .decryptionFailed
        }
    }
}

public enum NoiseError: Error, Equatable, Sendable {
    case nonceExhausted
    case cryptoFailure
    case decryptionFailed
    case invalidPublicKey
    case unexpectedMessage
    case messageTooLong(Int)
    case invalidPayload(String)
    case invalidSignature
    case peerIDMismatch(expected: PeerID, actual: PeerID)
}

/// Noise `SymmetricState` for SHA-256 (§5.2): chaining key, handshake hash, and a cipher.
struct NoiseSymmetricState: Sendable {
    private(set) var chainingKey: [UInt8]
    private(set) var handshakeHash: [UInt8]
    private var cipher = NoiseCipherState()

    init(protocolName: String) {
        let name = Array(protocolName.utf8)
        let h = name.count <= 32 ? name + [UInt8](repeating: 0, count: 32 - name.count) : Array(SHA256.hash(data: name))
        chainingKey = h
        handshakeHash = h
    }

    mutating func mixHash(_ data: [UInt8]) {
        var hasher = SHA256()
        hasher.update(data: handshakeHash)
        hasher.update(data: data)
        handshakeHash = Array(hasher.finalize())
    }

    mutating func mixKey(_ ikm: [UInt8]) {
        let (ck, k) = Self.hkdf(chainingKey: chainingKey, ikm: ikm)
        chainingKey = ck
        cipher = NoiseCipherState(key: k)
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ct = try cipher.encrypt(ad: handshakeHash, plaintext: plaintext)
        mixHash(ct)
        return ct
    }

    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let pt = try cipher.decrypt(ad: handshakeHash, ciphertext: ciphertext)
        mixHash(ciphertext)
        return pt
    }

    var hasKey: Bool { cipher.hasKey }

    /// `Split()`: the initiator-to-responder and responder-to-initiator ciphers.
    func split() -> (NoiseCipherState, NoiseCipherState) {
        let (k1, k2) = Self.hkdf(chainingKey: chainingKey, ikm: [])
        return (NoiseCipherState(key: k1), NoiseCipherState(key: k2))
    }

    /// Noise `HKDF` with two outputs (§4.3), built from HMAC-SHA256 (RFC 2104).
    static func hkdf(chainingKey: [UInt8], ikm: [UInt8]) -> ([UInt8], [UInt8]) {
        let tempKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: ikm, using: SymmetricKey(data: chainingKey)))
        let out1 = Array(HMAC<SHA256>.authenticationCode(for: [0x01], using: tempKey))
        let out2 = Array(HMAC<SHA256>.authenticationCode(for: out1 + [0x02], using: tempKey))
        return (out1, out2)
    }
}
