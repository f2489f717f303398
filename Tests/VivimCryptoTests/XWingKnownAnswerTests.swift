import Crypto
import Foundation
import Testing
@testable import VivimCrypto

/// swift-crypto's X-Wing against the test vectors of draft-connolly-cfrg-xwing-kem-06 (unchanged
/// through -10): the KEM the `X-Wing` capsule suite names is the draft's, byte for byte.
@Suite struct XWingKnownAnswerTests {
    struct Vector: Decodable { let sk: String, pk: String, ct: String, ss: String }
    struct File: Decodable { let vectors: [Vector] }

    static func vectors() throws -> [Vector] {
        let url = InteropTests.interopDirectory.appendingPathComponent("xwing-draft-vectors.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).vectors
    }

    @Test func publicKeysAndSharedSecretsMatchTheDraft() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count == 3)
        for vector in vectors {
            let keyPair = try EncryptionKeyPair(algorithm: .xWing, secretRepresentation: [UInt8](hex: vector.sk))
            #expect(keyPair.publicKey.key == [UInt8](hex: vector.pk))
            guard case .xWing(let privateKey) = keyPair else { Issue.record("not an X-Wing key"); continue }
            let sharedSecret = try privateKey.decapsulate(Data([UInt8](hex: vector.ct)))
            #expect(sharedSecret.bytes == [UInt8](hex: vector.ss))
        }
    }
}
