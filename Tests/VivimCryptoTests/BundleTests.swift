import Crypto
import Foundation
import Testing
import VivimCore
@testable import VivimCrypto

@Suite struct BundleTests {
    let owner = SigningIdentity()
    var sealer: BundleSealer { BundleSealer(owner: owner) }
    let createdAt = Date(timeIntervalSince1970: 1_795_000_000)

    func seal(_ recipients: [TestRecipient], circles: [CircleEpochKey] = []) throws -> SealedBundle {
        try sealer.seal(
            Fixtures.plaintext, intentId: Fixtures.intentId, recipients: recipients.map(\.recipient),
            circles: circles, description: Fixtures.description, createdAt: createdAt)
    }

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func aRecipientOpensTheBundleInTheirSuite(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let bundle = try seal([recipient]).bundle
        #expect(bundle.keyCapsules.map(\.kem) == [suite])
        #expect(try BundleOpener.open(bundle, recipientDid: recipient.did, keyPair: recipient.keyPair) == Fixtures.plaintext)
    }

    @Test func mixedAudiencesAndCirclesAllOpenAfterAJSONRoundTrip() throws {
        let recipients = try (0..<12).map { try TestRecipient($0 % 3 == 0 ? .mlKem1024 : .xWing) }
        let circle = CircleEpochKey.generate(circleId: CircleID(), epoch: 3)
        let sealed = try seal(recipients, circles: [circle])
        let bundle = try ContentBundle(jsonData: sealed.bundle.jsonData())
        #expect(bundle == sealed.bundle)
        #expect(bundle.keyCapsules.map(\.recipientDid) == recipients.map(\.did))
        for recipient in recipients {
            #expect(try BundleOpener.open(bundle, recipientDid: recipient.did, keyPair: recipient.keyPair) == Fixtures.plaintext)
        }
        #expect(try BundleOpener.open(bundle, epochKey: circle) == Fixtures.plaintext)
    }

    @Test func bundleFieldsAreTheSpecsAndDescribeTheContent() throws {
        let bundle = try seal([try TestRecipient(.xWing)]).bundle
        let json = try JSONSerialization.jsonObject(with: bundle.jsonData()) as! [String: Any]
        #expect(Set(json.keys) == [
            "version", "contentId", "intentId", "ownerDid", "createdAt", "algorithm", "nonce", "ciphertext",
            "keyCapsules", "metadata", "discoveryMetadata", "signature",
        ])
        #expect(json["version"] as? Int == 1)
        #expect(json["algorithm"] as? String == "AES-256-GCM")
        #expect(json["createdAt"] as? String == "2026-11-18T11:06:40Z")
        #expect(json["ownerDid"] as? String == owner.did.description)
        for field in ["nonce", "ciphertext", "signature"] {
            let text = json[field] as! String
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
        }
        let metadata = json["metadata"] as! [String: Any]
        #expect(metadata["contentHash"] as? String == Hashing.sha256Hex(Fixtures.plaintext))
        #expect(metadata["size"] as? Int == Fixtures.plaintext.count)
        #expect(Set(metadata.keys) == ["contentHash", "size", "contentType", "transformations"])
        let discovery = json["discoveryMetadata"] as! [String: Any]
        #expect(Set(discovery.keys).isSubset(of: ["contentType", "title", "tags", "createdAt", "authorDid"]))
        #expect(discovery["authorDid"] as? String == owner.did.description)
        #expect(bundle.contentId == Hashing.sha256Hex(bundle.ciphertext))
        #expect(String(decoding: bundle.signatureInput, as: UTF8.self)
            == "vivim/bundle/v1|\(bundle.contentId)|\(Fixtures.intentId)|\(owner.did)|2026-11-18T11:06:40Z")
        #expect(owner.did.verifies(signature: bundle.signature, over: bundle.signatureInput))
    }

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func aNonRecipientCannotOpen(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let outsider = try TestRecipient(suite)
        let bundle = try seal([recipient]).bundle
        #expect(throws: VivimError.self) {
            try BundleOpener.open(bundle, recipientDid: outsider.did, keyPair: outsider.keyPair)
        }
        // Claiming the recipient's DID does not help without their secret key.
        #expect(throws: VivimError.self) {
            try BundleOpener.open(bundle, recipientDid: recipient.did, keyPair: outsider.keyPair)
        }
        // Nor does copying the recipient's capsule under one's own DID and key id.
        var forged = bundle
        forged.keyCapsules[0].recipientDid = outsider.did
        forged.keyCapsules[0].keyId = outsider.keyPair.publicKey.keyId
        #expect(throws: VivimError.self) {
            try BundleOpener.open(forged, recipientDid: outsider.did, keyPair: outsider.keyPair)
        }
        #expect(throws: VivimError.self) { try BundleOpener.open(bundle, epochKey: .generate(circleId: CircleID())) }
        #expect(throws: VivimError.self) { try BundleOpener.open(bundle, contentKey: .generate()) }
    }

    @Test func publicBundlesCarryNoCapsulesAndOpenWithTheLinkFragment() throws {
        let sealed = try seal([])
        #expect(sealed.bundle.keyCapsules.isEmpty && sealed.bundle.epochCapsules.isEmpty && sealed.bundle.isCapsuleless)
        let json = try JSONSerialization.jsonObject(with: sealed.bundle.jsonData()) as! [String: Any]
        #expect((json["keyCapsules"] as? [Any])?.isEmpty == true)
        #expect(json["epochCapsules"] == nil)
        let fragment = sealed.contentKey.base64URL
        #expect(try BundleOpener.open(sealed.bundle, linkFragment: fragment) == Fixtures.plaintext)
        #expect(throws: VivimError.self) { try BundleOpener.open(sealed.bundle, linkFragment: ContentKey.generate().base64URL) }
        #expect(throws: VivimError.self) { try BundleOpener.open(sealed.bundle, linkFragment: "not-a-key") }
    }

    // MARK: Tampering

    /// Every single-byte change of ciphertext, nonce, signature, capsule `enc` and `wrapped`.
    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func everyChangedByteIsDetected(suite: EncryptionKeyAlgorithm) throws {
        let recipient = try TestRecipient(suite)
        let bundle = try seal([recipient]).bundle
        func rejects(_ tampered: ContentBundle, _ what: String) {
            #expect(throws: VivimError.self, "\(what)") {
                try BundleOpener.open(tampered, recipientDid: recipient.did, keyPair: recipient.keyPair)
            }
        }
        for index in bundle.ciphertext.indices {
            var tampered = bundle
            tampered.ciphertext[index] ^= 0x01
            rejects(tampered, "ciphertext[\(index)]")
            // Even with contentId recomputed, the signature no longer matches.
            tampered.contentId = Hashing.sha256Hex(tampered.ciphertext)
            rejects(tampered, "ciphertext[\(index)] with recomputed contentId")
        }
        for index in bundle.nonce.indices {
            var tampered = bundle
            tampered.nonce[index] ^= 0x01
            rejects(tampered, "nonce[\(index)]")
        }
        for index in bundle.signature.indices {
            var tampered = bundle
            tampered.signature[index] ^= 0x01
            rejects(tampered, "signature[\(index)]")
        }
        for index in bundle.keyCapsules[0].enc.indices {
            var tampered = bundle
            tampered.keyCapsules[0].enc[index] ^= 0x01
            rejects(tampered, "enc[\(index)]")
        }
        for index in bundle.keyCapsules[0].wrapped.indices {
            var tampered = bundle
            tampered.keyCapsules[0].wrapped[index] ^= 0x01
            rejects(tampered, "wrapped[\(index)]")
        }
    }

    @Test func everySignedOrCheckedFieldIsDetected() throws {
        let recipient = try TestRecipient(.xWing)
        let bundle = try seal([recipient]).bundle
        let other = SigningIdentity()
        var changes: [(String, (inout ContentBundle) -> Void)] = [
            ("contentId", { $0.contentId = Hashing.sha256Hex("x") }),
            ("contentId case", { $0.contentId = $0.contentId.uppercased() }),
            ("intentId", { $0.intentId = "3f2b8c1e-6a4d-4e0f-9b7a-2c5d8e1f4a61" }),
            ("ownerDid", { $0.ownerDid = other.did }),
            ("createdAt", { $0.createdAt = "2026-11-18T11:06:41Z" }),
            ("createdAt format", { $0.createdAt = "2026-11-18T11:06:40.000Z" }),
            ("version", { $0.version = 2 }),
            ("algorithm", { $0.algorithm = "AES-128-GCM" }),
            ("signature length", { $0.signature.removeLast() }),
            ("nonce length", { $0.nonce.append(0) }),
            ("truncated ciphertext", { $0.ciphertext.removeLast() }),
        ]
        // A consistent forgery by someone else: re-signed by another key under the owner's DID.
        changes.append(("re-signed by another key", { $0.signature = other.sign($0.signatureInput) }))
        // Each byte of each signed string (all ASCII), replaced by another digit.
        let signedStrings: [(String, WritableKeyPath<ContentBundle, String>)] = [
            ("contentId", \.contentId), ("intentId", \.intentId), ("createdAt", \.createdAt),
        ]
        for (name, keyPath) in signedStrings {
            for index in 0..<bundle[keyPath: keyPath].utf8.count {
                changes.append(("\(name)[\(index)]", { tampered in
                    var bytes = Array(tampered[keyPath: keyPath].utf8)
                    bytes[index] = bytes[index] == 0x30 ? 0x31 : 0x30
                    tampered[keyPath: keyPath] = String(decoding: bytes, as: UTF8.self)
                }))
            }
        }
        for (name, change) in changes {
            var tampered = bundle
            change(&tampered)
            #expect(tampered != bundle, "\(name) changed nothing")
            #expect(throws: VivimError.self, "\(name)") {
                try BundleOpener.open(tampered, recipientDid: recipient.did, keyPair: recipient.keyPair)
            }
            #expect(throws: VivimError.self, "\(name)") { try BundleOpener.verify(tampered) }
        }
        try BundleOpener.verify(bundle)

        // Checked against the plaintext once it is decrypted.
        let plaintextChecks: [(String, (inout ContentBundle) -> Void)] = [
            ("contentHash", { $0.metadata.contentHash = Hashing.sha256Hex("other") }),
            ("size", { $0.metadata.size += 1 }),
        ]
        for (name, change) in plaintextChecks {
            var tampered = bundle
            change(&tampered)
            #expect(throws: VivimError.self, "\(name)") {
                try BundleOpener.open(tampered, recipientDid: recipient.did, keyPair: recipient.keyPair)
            }
        }
    }

    /// Each character of the owner's DID as it appears in the JSON: the bundle either no longer
    /// parses or names a key that did not sign it.
    @Test func everyChangedCharacterOfTheOwnerDidIsDetected() throws {
        let recipient = try TestRecipient(.mlKem1024)
        let bundle = try seal([recipient]).bundle
        let json = Array(try bundle.jsonData())
        let field = Array("\"ownerDid\":\"\(owner.did)".utf8)
        let fieldStart = try #require(json.indices.first { Array(json[$0..<min($0 + field.count, json.count)]) == field })
        let start = fieldStart + "\"ownerDid\":\"".utf8.count
        for offset in 0..<owner.did.description.utf8.count {
            var tampered = json
            tampered[start + offset] = tampered[start + offset] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            #expect(throws: VivimError.self, "ownerDid[\(offset)]") {
                let parsed = try ContentBundle(jsonData: Data(tampered))
                _ = try BundleOpener.open(parsed, recipientDid: recipient.did, keyPair: recipient.keyPair)
            }
        }
    }

    @Test func theOwnerDidMustBeCanonicalInJSON() throws {
        let bundle = try seal([]).bundle
        let text = String(decoding: try bundle.jsonData(), as: UTF8.self)
        let rewritten = text.replacingOccurrences(of: "\"ownerDid\":\"did:vivim:", with: "\"ownerDid\":\"did:key:")
        #expect(rewritten != text)
        #expect(throws: VivimError.self) { try ContentBundle(jsonData: Data(rewritten.utf8)) }
        let padded = text.replacingOccurrences(of: "\"nonce\":\"\(Base64URL.encode(bundle.nonce))\"", with: "\"nonce\":\"\(Base64URL.encode(bundle.nonce))==\"")
        #expect(throws: VivimError.self) { try ContentBundle(jsonData: Data(padded.utf8)) }
    }

    @Test func refusesIntentIdsThatWouldBreakTheSeparators() throws {
        for bad in ["", "a|b", "line\nbreak", String(repeating: "x", count: 129)] {
            #expect(throws: VivimError.self) {
                try sealer.seal(Fixtures.plaintext, intentId: bad, recipients: [], description: Fixtures.description)
            }
        }
    }

    @Test func largeAudiencesAreSealedInRecipientOrder() throws {
        let recipients = try (0..<40).map { _ in try TestRecipient(.xWing) }
        let bundle = try seal(recipients).bundle
        #expect(bundle.keyCapsules.map(\.recipientDid) == recipients.map(\.did))
        for recipient in [recipients[0], recipients[17], recipients[39]] {
            #expect(try BundleOpener.open(bundle, recipientDid: recipient.did, keyPair: recipient.keyPair) == Fixtures.plaintext)
        }
    }

    @Test func theBenchmarkReportsEveryFigure() throws {
        let figures = try CryptoBenchmark.run(quick: true)
        let names = figures.map(\.name)
        #expect(names.contains("aes-256-gcm seal 10 MB (primitive)") && names.contains("encrypt stage 10 MB (seal + contentId)"))
        #expect(names.contains("X-Wing capsule seal") && names.contains("ML-KEM-1024 capsule open"))
        #expect(names.contains("bundle seal, 100 X-Wing recipients"))
        #expect(figures.allSatisfy { $0.value > 0 && $0.value.isFinite })
    }
}
