import Foundation
import NIOHTTP1
import VivimCore
import VivimCrypto

extension VivimAPIClient {
    /// Authorizes the server's publishing key for this identity until `notAfter` (docs/decisions/0004):
    /// fetches the key, signs the delegation on this device, uploads it.
    @discardableResult
    public func delegatePublishing(identity: SigningIdentity, notAfter: Date = Date().addingTimeInterval(365 * 86_400)) async throws -> PublishingDelegation {
        let key = try await send(.GET, "/api/v1/users/me/publishing-key")
        guard let text = key.data["publicKey"]?.string, let publicKey = Base64URL.decode(text) else {
            throw APIError(status: 0, code: "BAD_RESPONSE", message: "no publishing key")
        }
        let delegation = PublishingDelegation.issue(by: identity, to: publicKey, notAfter: notAfter)
        try await send(.PUT, "/api/v1/users/me/publishing-key", json: .object([
            "delegateKey": .string(Base64URL.encode(delegation.delegateKey)), "notAfter": .string(delegation.notAfter),
            "signature": .string(Base64URL.encode(delegation.signature)),
        ]))
        return delegation
    }

    /// Creates an intent from a builder, signed by `identity`.
    public func createIntent(_ builder: IntentBuilder, signedBy identity: SigningIdentity) async throws -> APIResponse {
        try await send(.POST, "/api/v1/sharing/intents", body: try builder.signedBody(by: identity))
    }

    /// Fetches a published bundle (with a session if this client has one).
    public func fetchContent(_ contentId: String) async throws -> (bundle: ContentBundle, response: APIResponse) {
        let response = try await send(.GET, "/api/v1/content/\(contentId)")
        guard let content = response.data["content"] else { throw APIError(status: 0, code: "BAD_RESPONSE", message: "no content") }
        return (try ContentBundle(jsonData: try JSONEncoder().encode(content)), response)
    }
}
