import Crypto
import Foundation
import Testing
import VivimCore
@testable import VivimCrypto

@Suite struct KeyCapsuleTests {
    let contentId = Hashing.sha256Hex("some ciphertext")

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func roundTripsTheContentKey(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let key = ContentKey.generate()
        let capsule = try KeyCapsule.seal(key, contentId: contentId, to: recipient.recipient)
        #expect(capsule.kem == suite)
        #expect(capsule.recipientDid == recipient.did)
        #expect(capsule.keyId == recipient.keyPair.publicKey.keyId)
        #expect(capsule.enc.count == (suite == .xWing ? 1120 : 1568))
        #expect(capsule.wrapped.count == 48)
        let opened = try capsule.open(contentId: contentId, keyPair: recipient.keyPair)
        #expect(opened.symmetricKey == key.symmetricKey)
    }

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func aNonRecipientCannotOpen(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let outsider = try EncryptionKeyPair.generate(suite)
        let capsule = try KeyCapsule.seal(.generate(), contentId: contentId, to: recipient.recipient)
        #expect(throws: VivimError.self) { try capsule.open(contentId: contentId, keyPair: outsider) }
        let otherSuite = try EncryptionKeyPair.generate(suite == .xWing ? .mlKem1024 : .xWing)
        #expect(throws: VivimError.self) { try capsule.open(contentId: contentId, keyPair: otherSuite) }
    }

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func theCapsuleIsBoundToTheRecipientDidAndTheContentId(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let capsule = try KeyCapsule.seal(.generate(), contentId: contentId, to: recipient.recipient)
        var relabelled = capsule
        relabelled.recipientDid = SigningIdentity().did
        #expect(throws: VivimError.self) { try relabelled.open(contentId: contentId, keyPair: recipient.keyPair) }
        #expect(throws: VivimError.self) {
            try capsule.open(contentId: Hashing.sha256Hex("another ciphertext"), keyPair: recipient.keyPair)
        }
        #expect(throws: VivimError.self) {
            try KeyWrap.open(
                enc: capsule.enc, wrapped: capsule.wrapped, suite: suite, keyPair: recipient.keyPair,
                recipientDid: recipient.did, context: .epochKey(circleId: CircleID(), epoch: 1))
        }
    }

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func everyFlippedByteOfEncOrWrappedIsRejected(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let key = ContentKey.generate()
        let capsule = try KeyCapsule.seal(key, contentId: contentId, to: recipient.recipient)
        for index in capsule.enc.indices {
            var tampered = capsule
            tampered.enc = capsule.enc.flipping(byteAt: index)
            #expect(throws: VivimError.self, "enc byte \(index)") {
                try tampered.open(contentId: contentId, keyPair: recipient.keyPair)
            }
        }
        for index in capsule.wrapped.indices {
            var tampered = capsule
            tampered.wrapped = capsule.wrapped.flipping(byteAt: index)
            #expect(throws: VivimError.self, "wrapped byte \(index)") {
                try tampered.open(contentId: contentId, keyPair: recipient.keyPair)
            }
        }
        var truncated = capsule
        truncated.enc.removeLast()
        #expect(throws: VivimError.self) { try truncated.open(contentId: contentId, keyPair: recipient.keyPair) }
    }

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func eachSealIsFresh(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let key = ContentKey.generate()
        let first = try KeyCapsule.seal(key, contentId: contentId, to: recipient.recipient)
        let second = try KeyCapsule.seal(key, contentId: contentId, to: recipient.recipient)
        #expect(first.enc != second.enc)
        #expect(first.wrapped != second.wrapped)
    }

    @Test func keyIdsDifferByKeyAndBySuite() throws {
        let a = try EncryptionKeyPair.generate(.xWing).publicKey
        let b = try EncryptionKeyPair.generate(.xWing).publicKey
        #expect(a.keyId != b.keyId)
        #expect(a.keyId == EncryptionKey(algorithm: .xWing, key: a.key).keyId)
        #expect(a.keyId != EncryptionKey(algorithm: .mlKem1024, key: a.key).keyId)
        #expect(Base64URL.decode(a.keyId)?.count == 16)
    }

    @Test func capsuleJSONUsesTheSpecFieldNamesAndBase64URL() throws {
        let recipient = try TestRecipient(.mlKem1024)
        let capsule = try KeyCapsule.seal(.generate(), contentId: contentId, to: recipient.recipient)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(capsule)) as! [String: Any]
        #expect(Set(json.keys) == ["recipientDid", "kem", "keyId", "enc", "wrapped"])
        #expect(json["kem"] as? String == "ML-KEM-1024")
        #expect(json["recipientDid"] as? String == recipient.did.description)
        #expect(Base64URL.decode(json["enc"] as! String) == capsule.enc)
        #expect(try JSONDecoder().decode(KeyCapsule.self, from: JSONEncoder().encode(capsule)) == capsule)
    }
}
