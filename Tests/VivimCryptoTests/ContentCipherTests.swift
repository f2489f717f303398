import Crypto
import Foundation
import Testing
import VivimCore
@testable import VivimCrypto

@Suite struct ContentCipherTests {
    let owner = SigningIdentity()

    @Test func roundTripsAndDerivesTheContentIdFromTheCiphertext() throws {
        let key = ContentKey.generate()
        let sealed = try ContentCipher.seal(Fixtures.plaintext, key: key, intentId: Fixtures.intentId, ownerDid: owner.did)
        #expect(sealed.nonce.count == 12)
        #expect(sealed.ciphertext.count == Fixtures.plaintext.count + 16)
        #expect(sealed.contentId == Hashing.sha256Hex(sealed.ciphertext))
        let opened = try ContentCipher.open(
            ciphertext: sealed.ciphertext, nonce: sealed.nonce, key: key, intentId: Fixtures.intentId, ownerDid: owner.did)
        #expect(opened == Fixtures.plaintext)
    }

    @Test func freshNoncesAndKeysMakeDifferentCiphertexts() throws {
        let key = ContentKey.generate()
        let first = try ContentCipher.seal(Fixtures.plaintext, key: key, intentId: Fixtures.intentId, ownerDid: owner.did)
        let second = try ContentCipher.seal(Fixtures.plaintext, key: key, intentId: Fixtures.intentId, ownerDid: owner.did)
        #expect(first.nonce != second.nonce)
        #expect(first.contentId != second.contentId)
        #expect(ContentKey.generate().base64URL != ContentKey.generate().base64URL)
    }

    @Test func associatedDataBindsTheIntentAndTheOwner() throws {
        let key = ContentKey.generate()
        let sealed = try ContentCipher.seal(Fixtures.plaintext, key: key, intentId: Fixtures.intentId, ownerDid: owner.did)
        #expect(throws: VivimError.self) {
            try ContentCipher.open(
                ciphertext: sealed.ciphertext, nonce: sealed.nonce, key: key,
                intentId: "3f2b8c1e-6a4d-4e0f-9b7a-2c5d8e1f4a61", ownerDid: owner.did)
        }
        #expect(throws: VivimError.self) {
            try ContentCipher.open(
                ciphertext: sealed.ciphertext, nonce: sealed.nonce, key: key, intentId: Fixtures.intentId,
                ownerDid: SigningIdentity().did)
        }
        #expect(throws: VivimError.self) {
            try ContentCipher.open(
                ciphertext: sealed.ciphertext, nonce: sealed.nonce, key: ContentKey.generate(),
                intentId: Fixtures.intentId, ownerDid: owner.did)
        }
    }

    @Test func associatedDataIsTheDocumentedString() throws {
        let did = try DID(parsing: "did:vivim:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        #expect(String(decoding: BundleLabels.contentAssociatedData(intentId: "i", ownerDid: did), as: UTF8.self)
            == "vivim/bundle/v1|i|did:vivim:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
    }

    /// Known answer: AES-256-GCM with key 00…1f, nonce 00…0b, the documented associated data.
    /// Cross-checked with Python `cryptography` (docs/bundle-format.md, "Known answers").
    @Test func knownAnswer() throws {
        let key = try ContentKey(SymmetricKey(data: (0..<32).map { UInt8($0) }))
        let did = try DID(parsing: "did:vivim:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        let sealed = try ContentCipher.seal(
            Array("hello, vivim".utf8), key: key, nonce: AES.GCM.Nonce(data: (0..<12).map { UInt8($0) }),
            intentId: "intent-1", ownerDid: did)
        #expect(sealed.ciphertext.hex == KnownAnswers.contentCiphertextHex)
        #expect(sealed.contentId == KnownAnswers.contentIdHex)
    }

    @Test func everyFlippedBitOfCiphertextTagOrNonceIsRejected() throws {
        let key = ContentKey.generate()
        let sealed = try ContentCipher.seal(Fixtures.plaintext, key: key, intentId: Fixtures.intentId, ownerDid: owner.did)
        for index in sealed.ciphertext.indices {
            for mask in [UInt8(0x01), 0x80] {
                #expect(throws: VivimError.self) {
                    try ContentCipher.open(
                        ciphertext: sealed.ciphertext.flipping(byteAt: index, mask: mask), nonce: sealed.nonce, key: key,
                        intentId: Fixtures.intentId, ownerDid: owner.did)
                }
            }
        }
        for index in sealed.nonce.indices {
            #expect(throws: VivimError.self) {
                try ContentCipher.open(
                    ciphertext: sealed.ciphertext, nonce: sealed.nonce.flipping(byteAt: index), key: key,
                    intentId: Fixtures.intentId, ownerDid: owner.did)
            }
        }
        #expect(throws: VivimError.self) {
            try ContentCipher.open(
                ciphertext: Array(sealed.ciphertext.dropLast()), nonce: sealed.nonce, key: key,
                intentId: Fixtures.intentId, ownerDid: owner.did)
        }
    }

    @Test func linkFragmentRoundTripsAndRefusesMalformedKeys() throws {
        let key = ContentKey.generate()
        let fragment = key.base64URL
        #expect(fragment.count == 43)
        #expect(fragment.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(try ContentKey(base64URL: fragment).symmetricKey == key.symmetricKey)
        for bad in ["", String(fragment.dropLast()), fragment + "A", fragment + "=", fragment.replacingOccurrences(of: "-", with: "+") + "/"] {
            #expect(throws: VivimError.self) { try ContentKey(base64URL: bad) }
        }
        #expect(throws: VivimError.self) { try ContentKey(SymmetricKey(size: .bits128)) }
    }
}
