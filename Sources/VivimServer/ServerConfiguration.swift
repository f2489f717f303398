import Foundation
import Logging

/// How `vivim serve` runs (SPEC §13). Every flag has a `VIVIM_<NAME>` environment variable.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks any free port (tests and benchmarks).
    public var port = 8080
    public var dataDirectory = "./vivim-data"
    /// PostgreSQL URL; nil runs the embedded master store in the data directory.
    public var masterDatabaseURL: String?
    public var logLevel: Logger.Level = .info
    /// Lifetime of access tokens (SPEC §1: one hour).
    public var tokenLifetime: TimeInterval = 3600
    /// Largest JSON body most routes accept.
    public var bodyLimit = 1 << 20
    /// Largest conversation import.
    public var importBodyLimit = 16 << 20
    /// Open per-user database handles kept at most.
    public var userDatabaseCacheSize = 256
    /// `iss` of issued tokens. Defaults to the server's own DID (the `did:vivim` of its
    /// token key), which stays the same whatever port or instance answers.
    public var issuer: String?

    public init() {}
}
