import Foundation
import Testing
import VivimCore
import VivimCrypto

/// W3C CCG did:key test vectors (test-vectors/ed25519-x25519.json): Ed25519 seed →
/// did:key and the base58 public key.
let didKeyVectors: [(seedLastByte: UInt8, did: String, publicKeyBase58: String)] = [
    (0, "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS"),
    (1, "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG", "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt"),
    (2, "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf", "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH"),
    (3, "did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ", "HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2"),
    (4, "did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL", "J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x"),
]

@Suite struct DIDTests {
    @Test(arguments: didKeyVectors.indices)
    func seedProducesTheW3CVectorDID(_ index: Int) throws {
        let vector = didKeyVectors[index]
        let identity = try SigningIdentity(seed: [UInt8](repeating: 0, count: 31) + [vector.seedLastByte])
        #expect(identity.did.didKey == vector.did)
        #expect(Base58.encode(identity.did.publicKey) == vector.publicKeyBase58)
    }

    @Test(arguments: didKeyVectors.indices)
    func didKeyParsesAndNormalizesToDidVivim(_ index: Int) throws {
        let vector = didKeyVectors[index]
        let did = try DID(parsing: vector.did)
        #expect(did.description == vector.did.replacingOccurrences(of: "did:key:", with: "did:vivim:"))
        #expect(Base58.decode(vector.publicKeyBase58) == did.publicKey)
        #expect(try DID(parsing: did.description) == did)
    }

    @Test(arguments: [
        "", "did:vivim:", "did:web:example.com", "did:vivim:../../x", "did:vivim:z6Mk/../../etc/passwd",
        "did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW",  // an X25519 key, not Ed25519
        "did:vivim:z0OIl", "did:vivim:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
        "did:vivim:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW",  // truncated
        "DID:VIVIM:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
        "did:vivim:" + String(repeating: "z", count: 500),
    ])
    func malformedDIDsAreRefusedWithValidationError(_ text: String) {
        #expect(throws: VivimError.self) { try DID(parsing: text) }
        do { _ = try DID(parsing: text) } catch { #expect(error.code == .validationError) }
    }

    @Test func signatureVerifiesOnlyForTheSignedMessageAndKey() {
        let alice = SigningIdentity(), bob = SigningIdentity()
        let message = Array("vivim/auth/v1|challenge|\(alice.did)".utf8)
        let signature = alice.sign(message)
        #expect(alice.did.verifies(signature: signature, over: message))
        #expect(!bob.did.verifies(signature: signature, over: message))
        #expect(!alice.did.verifies(signature: signature, over: message + [0]))
        var tampered = signature
        tampered[10] ^= 1
        #expect(!alice.did.verifies(signature: tampered, over: message))
        #expect(!alice.did.verifies(base64URLSignature: "not base64!", over: message))
    }
}

@Suite struct EncodingTests {
    @Test func base58RoundTripsRandomBytesIncludingLeadingZeros() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            for zeros in [0, 1, 3] where zeros <= length {
                let bytes = [UInt8](repeating: 0, count: zeros) + (zeros..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                #expect(Base58.decode(Base58.encode(bytes)) == bytes)
            }
        }
    }

    @Test func base58RefusesCharactersOutsideTheAlphabet() {
        for bad in ["0", "O", "I", "l", "+", "é", "abc def"] { #expect(Base58.decode(bad) == nil) }
    }

    @Test func base64URLRoundTripsAndIsStrict() {
        for length in 0..<70 {
            let bytes = SecureRandom.bytes(length)
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        for bad in ["a", "ab=c", "ab+c", "ab/c", "a b", "abcd="] { #expect(Base64URL.decode(bad) == nil) }
    }

    @Test func encryptionKeysMustBeValidForTheirSuite() throws {
        let xWing = try EncryptionKeyPair.generate(.xWing).publicKey
        let mlKem = try EncryptionKeyPair.generate(.mlKem1024).publicKey
        #expect(try EncryptionKey(algorithm: .xWing, base64URL: xWing.base64URL) == xWing)
        #expect(try EncryptionKey(algorithm: .mlKem1024, base64URL: mlKem.base64URL) == mlKem)
        #expect(throws: VivimError.self) { try EncryptionKey(algorithm: .mlKem1024, base64URL: xWing.base64URL) }
        #expect(throws: VivimError.self) { try EncryptionKey(algorithm: .xWing, base64URL: Base64URL.encode([1, 2, 3])) }
        #expect(throws: VivimError.self) { try EncryptionKey(algorithm: .xWing, base64URL: "%%%") }
    }

    @Test func keyPairsSurviveTheirStorageForm() throws {
        for algorithm in EncryptionKeyAlgorithm.allCases {
            let pair = try EncryptionKeyPair.generate(algorithm)
            let restored = try EncryptionKeyPair(algorithm: algorithm, secretRepresentation: pair.secretRepresentation)
            #expect(restored.publicKey == pair.publicKey)
        }
    }
}

@Suite struct IdentifierTests {
    @Test func newIdentifiersAreVersion7UUIDsInCreationOrder() throws {
        let ids = (0..<5_000).map { _ in ConversationID() }
        #expect(ids.map(\.rawValue) == ids.map(\.rawValue).sorted())  // time-ordered, monotonic within a millisecond
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(50) {
            let parsed = try ConversationID(parsing: id.rawValue)
            #expect(parsed == id)
            let characters = Array(id.rawValue)
            #expect(characters[14] == "7")  // version
            #expect("89ab".contains(characters[19]))  // RFC 9562 variant
        }
    }

    @Test func identifiersRefuseAnythingButCanonicalUUIDs() {
        for bad in ["", "x", "123", "../../etc", String(repeating: "a", count: 36), "0190c6d4-5b0e-7c3a-9f1e-2a4b6c8d0e1f0"] {
            #expect(throws: VivimError.self) { try CircleID(parsing: bad) }
        }
    }
}
