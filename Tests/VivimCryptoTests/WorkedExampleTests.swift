import Crypto
import Foundation
import Testing
import VivimCore
@testable import VivimCrypto

/// The worked example of docs/bundle-format.md: fixed keys, a real bundle committed under
/// interop/worked-example/. Capsules are randomized by their KEMs, so the committed bundle is one
/// real run; everything else is reproduced here byte for byte.
enum WorkedExample {
    static func label(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Array("vivim worked example: \(text)".utf8))) }

    static let ownerSeed = label("owner")
    static let xWingSeed = label("X-Wing recipient")
    static let mlKemSeed = Array(SHA512.hash(data: Array("vivim worked example: ML-KEM-1024 recipient".utf8)))
    static let memberSeed = label("circle member")
    static let contentKey = label("content key")
    static let nonce = Array(label("nonce").prefix(12))
    static let epochKey = label("epoch key")
    static let epochNonce = Array(label("epoch nonce").prefix(12))
    static let circleId = CircleID(trusted: "5b0c5e2a-8f4e-4d7b-a1c3-9e2f6d8b7a10")
    static let intentId = "6f1d2c3b-4a59-4e8f-9d7c-1b2a3c4d5e6f"
    static let createdAt = Date(timeIntervalSince1970: 1_795_694_400)  // 2026-11-26T12:00:00Z
    static let plaintext = Array(#"{"messages":[{"content":"Is the X-Wing KEM post-quantum?","role":"user"},{"content":"Yes: it combines ML-KEM-768 with X25519.","role":"assistant"}],"title":"KEMs","type":"conversation"}"#.utf8)
    static let description = BundleDescription(
        contentType: "conversation", title: "KEMs", tags: ["crypto"], transformations: ["attribution"])

    static var directory: URL { InteropTests.interopDirectory.appendingPathComponent("worked-example") }
    static var document: URL {
        InteropTests.interopDirectory.resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/bundle-format.md")
    }

    static func owner() throws -> SigningIdentity { try SigningIdentity(seed: ownerSeed) }
    static func xWing() throws -> EncryptionKeyPair { try EncryptionKeyPair(algorithm: .xWing, secretRepresentation: xWingSeed) }
    static func mlKem() throws -> EncryptionKeyPair { try EncryptionKeyPair(algorithm: .mlKem1024, secretRepresentation: mlKemSeed) }
    static func member() throws -> EncryptionKeyPair { try EncryptionKeyPair(algorithm: .xWing, secretRepresentation: memberSeed) }
    static func did(_ name: String) throws -> DID { try SigningIdentity(seed: label(name)).did }
    static func circle() throws -> CircleEpochKey {
        try CircleEpochKey(circleId: circleId, epoch: 1, symmetricKey: SymmetricKey(data: epochKey))
    }

    /// Seals the example; only the two capsules' KEM encapsulations are random.
    static func seal() throws -> SealedBundle {
        try BundleSealer(owner: owner()).seal(
            plaintext, intentId: intentId,
            recipients: [
                BundleRecipient(did: did("X-Wing recipient DID"), encryptionKey: xWing().publicKey),
                BundleRecipient(did: did("ML-KEM-1024 recipient DID"), encryptionKey: mlKem().publicKey),
            ],
            circles: [circle()], description: description, createdAt: createdAt,
            contentKey: ContentKey(SymmetricKey(data: contentKey)), nonce: AES.GCM.Nonce(data: nonce),
            epochNonce: { try! AES.GCM.Nonce(data: epochNonce) })
    }

    static func committedBundle() throws -> ContentBundle {
        try ContentBundle(jsonData: Data(contentsOf: directory.appendingPathComponent("bundle.json")))
    }
}

@Suite struct WorkedExampleTests {
    @Test func theCommittedBundleOpensForEveryRecipient() throws {
        let bundle = try WorkedExample.committedBundle()
        #expect(try BundleOpener.open(bundle, recipientDid: WorkedExample.did("X-Wing recipient DID"), keyPair: WorkedExample.xWing())
            == WorkedExample.plaintext)
        #expect(try BundleOpener.open(bundle, recipientDid: WorkedExample.did("ML-KEM-1024 recipient DID"), keyPair: WorkedExample.mlKem())
            == WorkedExample.plaintext)
        let memberCapsule = try JSONDecoder().decode(
            EpochKeyCapsule.self, from: Data(contentsOf: WorkedExample.directory.appendingPathComponent("epoch-key-capsule.json")))
        #expect(try BundleOpener.open(bundle, epochKey: memberCapsule.open(keyPair: WorkedExample.member())) == WorkedExample.plaintext)
        #expect(try BundleOpener.open(bundle, linkFragment: Base64URL.encode(WorkedExample.contentKey)) == WorkedExample.plaintext)
    }

    @Test func everyDeterministicByteIsReproduced() throws {
        let committed = try WorkedExample.committedBundle()
        var fresh = try WorkedExample.seal().bundle
        #expect(fresh.keyCapsules != committed.keyCapsules)  // KEM encapsulation is randomized
        fresh.keyCapsules = committed.keyCapsules
        #expect(fresh == committed)
        #expect(try fresh.jsonData() == Data(contentsOf: WorkedExample.directory.appendingPathComponent("bundle.json")))
    }

    /// The document quotes the committed bytes, so it cannot drift from the code.
    @Test func theDocumentQuotesTheCommittedValues() throws {
        let document = try String(contentsOf: WorkedExample.document, encoding: .utf8)
        let bundle = try WorkedExample.committedBundle()
        let quoted = [
            bundle.contentId, Base64URL.encode(bundle.ciphertext), Base64URL.encode(bundle.signature),
            WorkedExample.contentKey.hex, WorkedExample.nonce.hex, bundle.ownerDid.description,
            bundle.keyCapsules[1].keyId, Base64URL.encode(bundle.keyCapsules[1].wrapped),
            Base64URL.encode(bundle.epochCapsules[0].wrapped), bundle.metadata.contentHash,
        ]
        for value in quoted {
            #expect(document.contains(value), "docs/bundle-format.md does not quote \(value.prefix(24))…")
        }
    }

    /// Writes the worked example. Run with VIVIM_WRITE_WORKED_EXAMPLE=1 after a format change,
    /// then update docs/bundle-format.md from `open_bundle.py --explain`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VIVIM_WRITE_WORKED_EXAMPLE"] == "1"))
    func regenerate() throws {
        let directory = WorkedExample.directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sealed = try WorkedExample.seal()
        try sealed.bundle.jsonData().write(to: directory.appendingPathComponent("bundle.json"))
        let member = BundleRecipient(did: try WorkedExample.did("circle member DID"), encryptionKey: try WorkedExample.member().publicKey)
        let memberCapsule = try WorkedExample.circle().seal(to: member)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(memberCapsule).write(to: directory.appendingPathComponent("epoch-key-capsule.json"))

        var manifest = InteropManifest()
        let plaintext = WorkedExample.plaintext
        manifest.expect("X-Wing recipient", bundle: "bundle", opening: .fixed(
            did: try WorkedExample.did("X-Wing recipient DID"), keyPair: try WorkedExample.xWing()), plaintext: plaintext)
        manifest.expect("ML-KEM-1024 recipient", bundle: "bundle", opening: .fixed(
            did: try WorkedExample.did("ML-KEM-1024 recipient DID"), keyPair: try WorkedExample.mlKem()), plaintext: plaintext)
        manifest.expect("circle member (X-Wing) via the epoch key", bundle: "bundle",
                        opening: .epochFixed(memberCapsule, try WorkedExample.member()), plaintext: plaintext)
        manifest.expect("zero-knowledge link fragment", bundle: "bundle",
                        opening: .link(Base64URL.encode(WorkedExample.contentKey)), plaintext: plaintext)
        try manifest.write(to: directory)
    }
}
