import Foundation
import VivimCore

extension KeyedDecodingContainer {
    /// Decodes a binary field: base64url without padding, strictly.
    func decodeBase64URL(forKey key: Key) throws -> [UInt8] {
        let text = try decode(String.self, forKey: key)
        guard let bytes = Base64URL.decode(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "\(key.stringValue) is not base64url without padding")
        }
        return bytes
    }

    /// Decodes a DID that must already be in its canonical `did:vivim:` form: DIDs are part of
    /// signed and authenticated strings, so a bundle is read exactly as it was written.
    func decodeCanonicalDID(forKey key: Key) throws -> DID {
        let text = try decode(String.self, forKey: key)
        guard let did = try? DID(parsing: text), did.description == text else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "\(key.stringValue) is not a canonical did:vivim: DID")
        }
        return did
    }
}

extension KeyedEncodingContainer {
    mutating func encodeBase64URL(_ bytes: [UInt8], forKey key: Key) throws {
        try encode(Base64URL.encode(bytes), forKey: key)
    }
}
