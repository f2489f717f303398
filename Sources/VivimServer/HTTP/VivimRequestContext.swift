import Hummingbird
import NIOCore
import VivimCore

/// Who made an authenticated request.
public struct AuthenticatedCaller: Sendable {
    public var did: DID
    public var sessionID: SessionID
    public var deviceID: DeviceID?
}

/// The per-request context: request id, client address, and the caller once the auth
/// middleware has checked the token.
public struct VivimRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String = ""
    public var clientAddress: String?
    public var caller: AuthenticatedCaller?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The authenticated caller; routes behind `AuthMiddleware` always have one.
    public func requireCaller() throws -> AuthenticatedCaller {
        guard let caller else { throw VivimError.unauthorized("authentication required") }
        return caller
    }

    /// A path parameter that the router guarantees is present.
    public func parameter(_ name: String) throws -> String {
        guard let value = parameters.get(name) else { throw VivimError.validation("missing \(name)", field: name) }
        return value.removingPercentEncoding ?? value
    }
}

import Foundation
