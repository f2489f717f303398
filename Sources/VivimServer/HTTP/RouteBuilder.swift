import HTTPTypes
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
    let limits: RateLimitService
    let audit: AuditTrail
    private(set) var descriptors: [RouteDescriptor] = []

    init(router: Router<VivimRequestContext>, auth: AuthService, limits: RateLimitService, audit: AuditTrail) {
        self.router = router
        self.auth = auth
        self.limits = limits
        self.audit = audit
    }

    /// Access for routes that serve both visitors and signed-in users (public content): a
    /// bearer token, when present, must be valid; without one the caller is anonymous.
    enum Access { case authenticated, anonymous, optional }

    func add(_ method: HTTPRequest.Method, _ path: String, authenticated: Bool = true, rateLimit: RateLimitedAction? = nil,
             _ handler: @escaping Handler) {
        add(method, path, access: authenticated ? .authenticated : .anonymous, rateLimit: rateLimit, handler)
    }

    func add(_ method: HTTPRequest.Method, _ path: String, access: Access, rateLimit: RateLimitedAction? = nil,
             _ handler: @escaping Handler) {
        let openAPIPath = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            .joined(separator: "/")
        descriptors.append(RouteDescriptor(method: method.rawValue, path: openAPIPath, requiresAuth: access == .authenticated))
        let auth = self.auth, limits = self.limits, audit = self.audit
        router.on(RouterPath(path), method: method) { request, context in
            var context = context
            switch access {
            case .authenticated:
                context.caller = try await auth.authenticate(token: try Self.bearerToken(request))
            case .optional where request.headers[.authorization] != nil:
                context.caller = try await auth.authenticate(token: try Self.bearerToken(request))
            case .optional, .anonymous:
                break
            }
            guard let rateLimit else { return try await handler(request, context) }
            var subjects: [RateLimitSubject] = []
            if let caller = context.caller { subjects.append(.did(caller.did)) }
            subjects.append(.client(context.clientAddress ?? "unknown"))
            let decision: RateLimitDecision
            do {
                decision = try await limits.require(rateLimit, subjects: subjects)
            } catch let refusal as RateLimitExceeded {
                // SPEC §10.1: rate-limit refusals are audited.
                await audit.record(.rateLimitExceeded, actor: context.caller?.did, subject: openAPIPath, success: false,
                                   details: ["action": refusal.action.rawValue], client: context.clientAddress)
                throw refusal
            }
            var response = try await handler(request, context)
            for header in decision.headers { response.headers[HTTPField.Name(header.name)!] = header.value }
            return response
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
