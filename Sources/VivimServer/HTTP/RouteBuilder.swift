import Hummingbird
import VivimCore

/// A route as the OpenAPI document names it (`{param}` placeholders).
public struct RouteDescriptor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let method: String
    public let path: String
    public let requiresAuth: Bool

    public var description: String { "\(method) \(path)" }
    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
}

/// Registers routes on the router and records each one, so the OpenAPI document can be
/// checked against the routes that really exist. Authenticated routes check the bearer
/// token and session before the handler runs.
final class RouteBuilder {
    typealias Handler = @Sendable (Request, VivimRequestContext) async throws -> Response
    let router: Router<VivimRequestContext>
    let auth: AuthService
    private(set) var descriptors: [RouteDescriptor] = []

    init(router: Router<VivimRequestContext>, auth: AuthService) {
        self.router = router
        self.auth = auth
    }

    func add(_ method: HTTPRequest.Method, _ path: String, authenticated: Bool = true, _ handler: @escaping Handler) {
        let openAPIPath = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            .joined(separator: "/")
        descriptors.append(RouteDescriptor(method: method.rawValue, path: openAPIPath, requiresAuth: authenticated))
        let auth = self.auth
        router.on(RouterPath(path), method: method) { request, context in
            guard authenticated else { return try await handler(request, context) }
            var context = context
            context.caller = try await auth.authenticate(token: try Self.bearerToken(request))
            return try await handler(request, context)
        }
    }

    static func bearerToken(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization] else {
            throw VivimError.unauthorized("missing Authorization: Bearer token")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty, parts[1].utf8.count <= 4096 else {
            throw VivimError.unauthorized("Authorization must be 'Bearer <token>'")
        }
        return String(parts[1])
    }
}
