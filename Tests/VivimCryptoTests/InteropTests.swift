import Crypto
import Foundation
import Testing
import VivimCore
@testable import VivimCrypto

/// Bundles made here are opened by interop/open_bundle.py, an independent Python
/// implementation of docs/bundle-format.md on `cryptography` (OpenSSL): X-Wing's combiner and
/// RFC 9180's key schedule written out, not borrowed from swift-crypto.
@Suite struct InteropTests {
    static let interopDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("interop")

    @Test func pythonOpensBundlesOfBothSuitesAndRejectsTamperedOnes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vivim-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let owner = BundleSealer(owner: SigningIdentity())
        let xWing = try TestRecipient(.xWing)
        let mlKem = try TestRecipient(.mlKem1024)
        let member = try TestRecipient(.mlKem1024)
        let epochKey = CircleEpochKey.generate(circleId: CircleID(), epoch: 2)
        let sealed = try owner.seal(
            Fixtures.plaintext, intentId: Fixtures.intentId, recipients: [xWing.recipient, mlKem.recipient],
            circles: [epochKey], description: Fixtures.description)
        let link = try owner.seal(Fixtures.plaintext, intentId: Fixtures.intentId, recipients: [], description: Fixtures.description)

        var manifest = InteropManifest()
        try manifest.add("bundle", sealed.bundle, to: directory)
        try manifest.add("public", link.bundle, to: directory)
        var tamperedCiphertext = sealed.bundle
        tamperedCiphertext.ciphertext[3] ^= 0x20
        tamperedCiphertext.contentId = Hashing.sha256Hex(tamperedCiphertext.ciphertext)
        try manifest.add("tampered-ciphertext", tamperedCiphertext, to: directory)
        var tamperedSignature = sealed.bundle
        tamperedSignature.signature[10] ^= 0x01
        try manifest.add("tampered-signature", tamperedSignature, to: directory)
        var tamperedCapsules = sealed.bundle
        tamperedCapsules.keyCapsules[0].enc[500] ^= 0x01
        tamperedCapsules.keyCapsules[1].wrapped[0] ^= 0x01
        try manifest.add("tampered-capsules", tamperedCapsules, to: directory)

        manifest.expect("X-Wing recipient", bundle: "bundle", opening: .recipient(xWing), plaintext: Fixtures.plaintext)
        manifest.expect("ML-KEM-1024 recipient", bundle: "bundle", opening: .recipient(mlKem), plaintext: Fixtures.plaintext)
        manifest.expect(
            "circle member via epoch key (ML-KEM-1024)", bundle: "bundle",
            opening: .epoch(try epochKey.seal(to: member.recipient), member), plaintext: Fixtures.plaintext)
        manifest.expect(
            "zero-knowledge link fragment", bundle: "public", opening: .link(link.contentKey.base64URL),
            plaintext: Fixtures.plaintext)
        manifest.expect("non-recipient", bundle: "bundle", opening: .recipient(try TestRecipient(.xWing)), plaintext: nil)
        manifest.expect("wrong link key", bundle: "public", opening: .link(ContentKey.generate().base64URL), plaintext: nil)
        for suite in [xWing, mlKem] {
            let name = suite.keyPair.publicKey.algorithm.rawValue
            manifest.expect("tampered ciphertext (\(name))", bundle: "tampered-ciphertext", opening: .recipient(suite), plaintext: nil)
            manifest.expect("tampered signature (\(name))", bundle: "tampered-signature", opening: .recipient(suite), plaintext: nil)
            manifest.expect("tampered capsule (\(name))", bundle: "tampered-capsules", opening: .recipient(suite), plaintext: nil)
        }
        try manifest.write(to: directory)

        try Self.runPython(on: directory)
    }

    /// The committed worked example of docs/bundle-format.md opens in Python too.
    @Test func pythonOpensTheWorkedExample() throws {
        try Self.runPython(on: Self.interopDirectory.appendingPathComponent("worked-example"))
    }

    /// The other direction: a bundle sealed by interop/seal_bundle.py from the document alone
    /// opens here, for both suites and through a circle epoch key.
    @Test func swiftOpensABundleSealedByPython() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vivim-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let recipients = [try TestRecipient(.xWing), try TestRecipient(.mlKem1024)]
        let epochKey = CircleEpochKey.generate(circleId: CircleID(), epoch: 7)
        let request: [String: Any] = [
            "intentId": Fixtures.intentId,
            "plaintext": Base64URL.encode(Fixtures.plaintext),
            "recipients": recipients.map {
                ["recipientDid": $0.did.description, "kem": $0.keyPair.publicKey.algorithm.rawValue,
                 "publicKey": $0.keyPair.publicKey.base64URL]
            },
            "circle": [
                "circleId": epochKey.circleId.rawValue, "epoch": epochKey.epoch,
                "epochKey": epochKey.symmetricKey.withUnsafeBytes { Base64URL.encode($0) },
            ],
        ]
        try JSONSerialization.data(withJSONObject: request).write(to: directory.appendingPathComponent("request.json"))
        guard try Self.runPython("seal_bundle.py", directory) else { return }

        let bundle = try ContentBundle(jsonData: Data(contentsOf: directory.appendingPathComponent("bundle.json")))
        #expect(bundle.keyCapsules.map(\.kem) == [.xWing, .mlKem1024])
        for recipient in recipients {
            #expect(try BundleOpener.open(bundle, recipientDid: recipient.did, keyPair: recipient.keyPair) == Fixtures.plaintext)
        }
        #expect(try BundleOpener.open(bundle, epochKey: epochKey) == Fixtures.plaintext)
        var tampered = bundle
        tampered.keyCapsules[0].wrapped[5] ^= 0x01
        #expect(throws: VivimError.self) {
            try BundleOpener.open(tampered, recipientDid: recipients[0].did, keyPair: recipients[0].keyPair)
        }
    }

    static func runPython(on directory: URL) throws {
        try runPython("open_bundle.py", directory)
    }

    /// Runs an interop script; records a failure (never a skip) when python3 or `cryptography`
    /// is missing. Returns whether the script exited 0.
    @discardableResult
    static func runPython(_ scriptName: String, _ directory: URL) throws -> Bool {
        let script = interopDirectory.appendingPathComponent(scriptName).path
        let probe = try run(["python3", "-c", "from cryptography.hazmat.primitives.asymmetric import mlkem"])
        guard probe.status == 0 else {
            Issue.record("""
                The interop test needs python3 with `cryptography` >= 46 (ML-KEM). Run scripts/test.sh, \
                which installs it. \(probe.output)
                """)
            return false
        }
        let result = try run(["python3", script, directory.path])
        #expect(result.status == 0, "\(scriptName) failed:\n\(result.output)")
        return result.status == 0
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return (127, "could not start \(arguments[0]): \(error)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// The manifest open_bundle.py reads: which bundle to open, how, and what must come out.
struct InteropManifest {
    enum Opening {
        case fixed(did: DID, keyPair: EncryptionKeyPair)
        case epochFixed(EpochKeyCapsule, EncryptionKeyPair)
        case link(String)

        static func recipient(_ recipient: TestRecipient) -> Opening { .fixed(did: recipient.did, keyPair: recipient.keyPair) }
        static func epoch(_ capsule: EpochKeyCapsule, _ member: TestRecipient) -> Opening { .epochFixed(capsule, member.keyPair) }
    }

    private var cases: [[String: Any]] = []

    func add(_ name: String, _ bundle: ContentBundle, to directory: URL) throws {
        try bundle.jsonData().write(to: directory.appendingPathComponent("\(name).json"))
    }

    mutating func expect(_ name: String, bundle: String, opening: Opening, plaintext: [UInt8]?) {
        let how: [String: Any]
        switch opening {
        case .fixed(let did, let keyPair):
            how = [
                "kind": "recipient", "recipientDid": did.description, "kem": keyPair.publicKey.algorithm.rawValue,
                "secretKey": Base64URL.encode(keyPair.secretRepresentation),
            ]
        case .epochFixed(let capsule, let keyPair):
            let capsuleJSON = try! JSONSerialization.jsonObject(with: JSONEncoder().encode(capsule))
            how = [
                "kind": "epoch", "epochKeyCapsule": capsuleJSON, "kem": keyPair.publicKey.algorithm.rawValue,
                "secretKey": Base64URL.encode(keyPair.secretRepresentation),
            ]
        case .link(let fragment):
            how = ["kind": "link", "fragment": fragment]
        }
        let expect: Any = plaintext.map { ["plaintext": Base64URL.encode($0)] } ?? "reject"
        cases.append(["name": name, "bundle": "\(bundle).json", "open": how, "expect": expect])
    }

    func write(to directory: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: ["cases": cases], options: [.prettyPrinted, .sortedKeys])
        try data.write(to: directory.appendingPathComponent("manifest.json"))
    }
}
