import Crypto
import Foundation
import VivimCore

/// The fresh 256-bit AES-GCM key of one bundle (SPEC §7.4). Held only as a `SymmetricKey`,
/// which swift-crypto zeroes when the last reference goes away; drop it as soon as it is wrapped.
public struct ContentKey: Sendable {
    public static let byteCount = 32

    public let symmetricKey: SymmetricKey

    /// A fresh key from the system's secure random source.
    public static func generate() -> ContentKey {
        ContentKey(checked: SymmetricKey(size: .bits256))
    }

    public init(_ symmetricKey: SymmetricKey) throws(VivimError) {
        guard symmetricKey.bitCount == 256 else {
            throw .validation("a content key is 256 bits", field: "contentKey")
        }
        self.symmetricKey = symmetricKey
    }

    init(checked symmetricKey: SymmetricKey) {
        precondition(symmetricKey.bitCount == 256)
        self.symmetricKey = symmetricKey
    }

    /// Parses the key of a zero-knowledge link's URL fragment (`…/s/<code>#<key>`) or a public
    /// record's `contentKey`: base64url without padding of the 32 key bytes.
    public init(base64URL text: String) throws(VivimError) {
        guard var bytes = Base64URL.decode(text), bytes.count == Self.byteCount else {
            throw .validation("content key must be 32 bytes of base64url without padding", field: "contentKey")
        }
        defer { _ = bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        self.symmetricKey = SymmetricKey(data: bytes)
    }

    /// The key as base64url without padding (43 characters): the URL fragment of a
    /// zero-knowledge link and the `contentKey` of a public share. Anyone holding it can read
    /// the bundle; it must never reach a server log or a query string.
    public var base64URL: String {
        symmetricKey.withUnsafeBytes { Base64URL.encode($0) }
    }
}
