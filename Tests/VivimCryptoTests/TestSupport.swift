import Crypto
import Foundation
import VivimCore
@testable import VivimCrypto

/// A person with a DID and an encryption key pair of one suite, as a recipient holds them.
struct TestRecipient {
    let identity: SigningIdentity
    let keyPair: EncryptionKeyPair

    init(_ suite: EncryptionKeyAlgorithm) throws {
        identity = SigningIdentity()
        keyPair = try EncryptionKeyPair.generate(suite)
    }

    var did: DID { identity.did }
    var recipient: BundleRecipient { BundleRecipient(did: did, encryptionKey: keyPair.publicKey) }
}

enum Fixtures {
    static let intentId = "3f2b8c1e-6a4d-4e0f-9b7a-2c5d8e1f4a60"
    static let plaintext = Array(#"{"type":"conversation","title":"Tea","messages":[{"role":"user","content":"How long should green tea steep?"},{"role":"assistant","content":"About two minutes at 80 °C."}]}"#.utf8)
    static let description = BundleDescription(
        contentType: "conversation", title: "Tea", tags: ["tea"], transformations: ["watermark"])
}

extension Array where Element == UInt8 {
    /// A copy with one bit of one byte flipped.
    func flipping(byteAt index: Int, mask: UInt8 = 0x01) -> [UInt8] {
        var copy = self
        copy[index] ^= mask
        return copy
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }

    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}

extension SymmetricKey {
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
