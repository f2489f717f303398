import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import VivimCore
import VivimCrypto

/// An error answered by the server (the SPEC §11 envelope) or met on the way.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var field: String?
    public var description: String { "\(code) (\(status)): \(message)" + (field.map { " [\($0)]" } ?? "") }
}

/// A response's `data` and `meta`.
public struct APIResponse: Sendable {
    public var status: Int
    public var data: JSONValue
    public var meta: JSONValue?
    public var headers: [(String, String)]
}

/// The HTTP API client used by the CLI, the benchmarks and the tests.
public final class VivimAPIClient: Sendable {
    public let baseURL: String
    public let token: String?
    let http: HTTPClient

    public init(baseURL: String, token: String? = nil, http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.http = http
    }

    public func withToken(_ token: String) -> VivimAPIClient { VivimAPIClient(baseURL: baseURL, token: token, http: http) }

    /// Sends a request and unwraps the envelope; a failure envelope throws `APIError`.
    @discardableResult
    public func send(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil, body: Data? = nil) async throws -> APIResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let payload = try body ?? json.map({ try JSONEncoder().encode($0) }) {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: payload))
        }
        let response = try await http.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let status = Int(response.status.code)
        let headers = response.headers.map { ($0.name, $0.value) }
        let decoded: JSONValue? = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: bytes))
        guard let envelope = decoded else {
            if (200..<300).contains(status) {
                return APIResponse(status: status, data: .string(String(buffer: bytes)), meta: nil, headers: headers)
            }
            throw APIError(status: status, code: "HTTP_\(status)", message: String(buffer: bytes).prefix(200).description, field: nil)
        }
        if envelope["success"] == JSONValue.bool(false) || !(200..<300).contains(status) {
            let error = envelope["error"]
            throw APIError(status: status, code: error?["code"]?.string ?? "HTTP_\(status)",
                           message: error?["message"]?.string ?? "request failed", field: error?["field"]?.string)
        }
        return APIResponse(status: status, data: envelope["data"] ?? envelope, meta: envelope["meta"], headers: headers)
    }

    // MARK: Identity

    /// Registers the identity's DID with its encryption key and device (SPEC §1).
    @discardableResult
    public func register(identity: SigningIdentity, encryptionKey: EncryptionKey, deviceID: DeviceID,
                         displayName: String? = nil, deviceName: String? = nil) async throws -> APIResponse {
        let keyText = encryptionKey.base64URL
        let proof = identity.signBase64URL(SignedStatement.registration(did: identity.did, algorithm: encryptionKey.algorithm,
                                                                        key: keyText, deviceID: deviceID))
        var device: [String: JSONValue] = ["deviceId": .string(deviceID.rawValue)]
        if let deviceName { device["name"] = .string(deviceName) }
        var body: [String: JSONValue] = [
            "did": .string(identity.did.description),
            "encryptionKey": .object(["alg": .string(encryptionKey.algorithm.rawValue), "key": .string(keyText)]),
            "device": .object(device),
            "proof": .string(proof),
        ]
        if let displayName { body["displayName"] = .string(displayName) }
        return try await send(.POST, "/api/v1/auth/register", json: .object(body))
    }

    /// Challenge/response login; returns a client carrying the new token.
    public func login(identity: SigningIdentity, deviceID: DeviceID? = nil) async throws -> (client: VivimAPIClient, token: String, expiresAt: String) {
        let challenge = try await send(.POST, "/api/v1/auth/challenge", json: .object(["did": .string(identity.did.description)]))
        guard let text = challenge.data["challenge"]?.string else { throw APIError(status: 0, code: "BAD_RESPONSE", message: "no challenge") }
        let signature = identity.signBase64URL(SignedStatement.login(challenge: text, did: identity.did))
        var body: [String: JSONValue] = ["did": .string(identity.did.description), "challenge": .string(text), "signature": .string(signature)]
        if let deviceID { body["deviceId"] = .string(deviceID.rawValue) }
        let verified = try await send(.POST, "/api/v1/auth/verify", json: .object(body))
        guard let token = verified.data["token"]?.string else { throw APIError(status: 0, code: "BAD_RESPONSE", message: "no token") }
        return (withToken(token), token, verified.data["expiresAt"]?.string ?? "")
    }
}
