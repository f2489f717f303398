/// Values computed outside this code base, with Python `cryptography` 48 (OpenSSL), from the
/// rules in docs/bundle-format.md.
enum KnownAnswers {
    /// AES-256-GCM(key = 00…1f, nonce = 00…0b, plaintext = "hello, vivim",
    /// aad = "vivim/bundle/v1|intent-1|did:vivim:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK").
    static let contentCiphertextHex = "2f67ba77aac9e26de437fee6246761ce831e9817a506b39a3b0fc456"
    /// SHA-256 of that ciphertext.
    static let contentIdHex = "1c27852f233277b56fae4784683bf5f4006c742374fd9fe81a7f265a3649003c"
}
