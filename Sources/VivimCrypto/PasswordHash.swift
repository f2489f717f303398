import Crypto
import _CryptoExtras
import Foundation
import VivimCore

/// Slow, salted password hashes for share links (SPEC §6): scrypt (RFC 7914), encoded as
/// `scrypt$<log2 N>$<r>$<p>$<base64url salt>$<base64url hash>` so the work factor can grow
/// without invalidating stored hashes. Verification compares in constant time.
public struct PasswordHasher: Sendable {
    public var log2N: Int
    public var blockSize: Int
    public var parallelism: Int

    /// N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per guess.
    public static let standard = PasswordHasher(log2N: 15, blockSize: 8, parallelism: 1)

    public init(log2N: Int, blockSize: Int, parallelism: Int) {
        self.log2N = log2N
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    public func hash(_ password: String) throws -> String {
        let salt = SecureRandom.bytes(16)
        let derived = try Self.derive(password, salt: salt, log2N: log2N, r: blockSize, p: parallelism)
        return "scrypt$\(log2N)$\(blockSize)$\(parallelism)$\(Base64URL.encode(salt))$\(Base64URL.encode(derived))"
    }

    /// Whether `password` matches `encoded`. A malformed or unknown encoding never matches.
    public static func verify(_ password: String, against encoded: String) -> Bool {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt", let log2N = Int(parts[1]), (10...20).contains(log2N),
              let r = Int(parts[2]), (1...32).contains(r), let p = Int(parts[3]), (1...16).contains(p),
              let salt = Base64URL.decode(String(parts[4])), let expected = Base64URL.decode(String(parts[5])), expected.count == 32,
              let derived = try? derive(password, salt: salt, log2N: log2N, r: r, p: p)
        else { return false }
        return Hashing.constantTimeEquals(derived, expected)
    }

    static func derive(_ password: String, salt: [UInt8], log2N: Int, r: Int, p: Int) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << log2N,
                                           blockSize: r, parallelism: p, maxMemory: 256 << 20)
        return key.withUnsafeBytes { Array($0) }
    }
}

/// AES-256-GCM sealing of secrets the server keeps at rest (circle epoch keys, publishing-key
/// seeds) under a key derived from the server's own secret, with a purpose label bound in as
/// associated data so a box for one purpose never opens as another.
public struct SecretBox: Sendable {
    let key: SymmetricKey

    public init(serverSecret: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: serverSecret), salt: Array("vivim/secret-box/v1".utf8),
                                     info: Array("storage".utf8), outputByteCount: 32)
    }

    public func seal(_ secret: [UInt8], purpose: String) throws -> [UInt8] {
        Array(try AES.GCM.seal(secret, using: key, authenticating: Array(purpose.utf8)).combined!)
    }

    public func open(_ box: [UInt8], purpose: String) throws(VivimError) -> [UInt8] {
        do {
            return Array(try AES.GCM.open(AES.GCM.SealedBox(combined: box), using: key, authenticating: Array(purpose.utf8)))
        } catch {
            throw VivimError(.internalError, "a stored secret does not open with this server's key")
        }
    }
}
