import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import VivimClient
import VivimCore
import VivimCrypto
import VivimServer
import VivimTestSupport

enum StoreKind: Sendable { case sqlite, postgresql }

/// A real server on a real loopback socket, on a fresh master store of either kind and
/// a fresh data directory.
struct Harness: Sendable {
    let server: RunningServer
    let anonymous: VivimAPIClient
    let directory: String
    var baseURL: String { server.baseURL }

    struct TestUser: Sendable {
        let identity: SigningIdentity
        let encryption: EncryptionKey
        /// The secret half, as it would live on the user's device only.
        let keyPair: EncryptionKeyPair
        let deviceID: DeviceID
        let client: VivimAPIClient
        let token: String
        var did: DID { identity.did }
    }

    static func with(_ kind: StoreKind, clock: (any WallClock)? = nil, configure: @Sendable (inout ServerConfiguration) -> Void = { _ in },
                     _ body: @Sendable (Harness) async throws -> Void) async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.dataDirectory = directory
        configuration.logLevel = .error
        if kind == .postgresql { configuration.masterDatabaseURL = try await TestDatabases.freshPostgresDatabase() }
        configure(&configuration)
        let app = try await VivimServerApp.make(configuration: configuration, clock: clock ?? SystemClock())
        let server = try await RunningServer.start(app)
        let harness = Harness(server: server, anonymous: VivimAPIClient(baseURL: server.baseURL), directory: directory)
        do {
            try await body(harness)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Registers and logs in a new user with a fresh identity.
    func newUser(_ name: String = "user", algorithm: EncryptionKeyAlgorithm = .xWing) async throws -> TestUser {
        let identity = SigningIdentity()
        let keyPair = try EncryptionKeyPair.generate(algorithm)
        let key = keyPair.publicKey
        let device = try DeviceID(parsing: "dev-\(name)")
        try await anonymous.register(identity: identity, encryptionKey: key, deviceID: device, displayName: name)
        let (client, token, _) = try await anonymous.login(identity: identity, deviceID: device)
        try await client.delegatePublishing(identity: identity)
        return TestUser(identity: identity, encryption: key, keyPair: keyPair, deviceID: device, client: client, token: token)
    }

    /// A raw request, for inputs no well-behaved client would send.
    func raw(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
             token: String? = nil) async throws -> (status: Int, json: JSONValue?) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), try? JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView)))
    }

    /// Asserts an error envelope with the given status and code.
    static func expectError(_ result: (status: Int, json: JSONValue?), status: Int, code: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, sourceLocation: sourceLocation)
        #expect(result.json?["success"] == .bool(false), sourceLocation: sourceLocation)
        #expect(result.json?["error"]?["code"]?.string == code, "\(String(describing: result.json))", sourceLocation: sourceLocation)
        #expect(result.json?["meta"]?["requestId"]?.string?.isEmpty == false, sourceLocation: sourceLocation)
    }
}

extension APIError {
    static func code(_ error: any Error) -> String? { (error as? APIError)?.code }
}

/// Expects `body` to fail with an API error of `code`.
func expectAPIError(_ code: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch let error as APIError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
