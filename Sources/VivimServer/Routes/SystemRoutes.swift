import Foundation
import Hummingbird
import VivimCore

extension VivimServerApp {
    func addSystemRoutes(_ routes: RouteBuilder) {
        let services = self.services

        routes.add(.get, "/health", authenticated: false) { _, context in
            try context.respond(["status": "ok"])
        }

        routes.add(.get, "/ready", authenticated: false) { _, context in
            do {
                try await services.master.ping()
            } catch {
                throw VivimError(.serviceUnavailable, "master store is not answering")
            }
            guard FileManager.default.isWritableFile(atPath: services.userDatabases.root) else {
                throw VivimError(.serviceUnavailable, "data directory is not writable")
            }
            struct Ready: Encodable { var status: String; var masterStore: String; var openUserDatabases: Int }
            return try context.respond(Ready(status: "ready", masterStore: services.master.backendName,
                                             openUserDatabases: services.userDatabases.openCount))
        }

        routes.add(.get, "/metrics", authenticated: false) { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: services.metrics.exposition())))
        }

        routes.add(.get, "/.well-known/jwks.json", authenticated: false) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=300"],
                     body: .init(byteBuffer: try APIJSON.buffer(services.tokens.jwks)))
        }

        routes.add(.get, "/api/v1/openapi.json", authenticated: false) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
    }
}

/// The OpenAPI document shipped as a resource; it is the contract of the HTTP API and a
/// test checks it against the registered routes.
public enum OpenAPIDocument {
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = try? Data(contentsOf: url) else { return Array(#"{"openapi":"3.1.0"}"#.utf8) }
        return Array(data)
    }()
}
