import Foundation
import Testing
import VivimClient
import VivimServer

/// The OpenAPI document and the router describe the same API: every route is documented
/// with the right security, and every documented operation exists.
@Suite struct OpenAPIDocumentTests {
    static let methods = ["get", "put", "post", "patch", "delete"]

    func documentedOperations() throws -> [String: Bool] {
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(OpenAPIDocument.bytes))
        let globalSecurity = !(document["security"]?.array?.isEmpty ?? true)
        guard case .object(let paths)? = document["paths"] else { throw CancellationError() }
        var operations: [String: Bool] = [:]
        for (path, item) in paths {
            for method in Self.methods {
                guard let operation = item[method] else { continue }
                // `[{}, {bearer: []}]` documents an optional token: the route does not require one.
                let secured = operation["security"].map { requirement in
                    let alternatives = requirement.array ?? []
                    return !alternatives.isEmpty && !alternatives.contains(.object([:]))
                } ?? globalSecurity
                operations["\(method.uppercased()) \(path)"] = secured
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryOperationIsRouted() async throws {
        try await Harness.with(.sqlite) { harness in
            let (_, routes) = harness.server.app.buildRouter()
            let routed = Dictionary(uniqueKeysWithValues: routes.map { ($0.description, $0.requiresAuth) })
            let documented = try documentedOperations()
            #expect(Set(routed.keys).subtracting(documented.keys).sorted() == [], "routes missing from openapi.json")
            #expect(Set(documented.keys).subtracting(routed.keys).sorted() == [], "documented operations with no route")
            for (operation, secured) in routed {
                #expect(documented[operation] == secured, "security of \(operation)")
            }
            // The server serves the same document.
            let served = try await harness.raw(.GET, "/api/v1/openapi.json")
            #expect(served.status == 200 && served.json?["openapi"]?.string == "3.1.0")
        }
    }

    @Test func documentedErrorCodesMatchTheServers() throws {
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(OpenAPIDocument.bytes))
        let codes = document["components"]?["schemas"]?["ErrorEnvelope"]?["properties"]?["error"]?["properties"]?["code"]?["enum"]?.array?
            .compactMap(\.string) ?? []
        #expect(Set(codes) == Set(ErrorCodeNames.all))
    }
}

import VivimCore
enum ErrorCodeNames {
    static var all: [String] { ErrorCode.allCases.map(\.rawValue) }
}
