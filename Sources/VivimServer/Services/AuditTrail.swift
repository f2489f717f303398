import Foundation
import Logging
import VivimCore
import VivimStore

/// Writes audit events to the master store's hash chain. An audit write that fails is
/// logged loudly but never turns a user's request into a 500.
final class AuditTrail: Sendable {
    let master: any MasterStore
    let clock: any WallClock
    let logger: Logger

    init(master: any MasterStore, clock: any WallClock, logger: Logger) {
        self.master = master
        self.clock = clock
        self.logger = logger
    }

    func record(_ type: AuditEventType, actor: DID?, subject: String? = nil, success: Bool = true,
                details: [String: String] = [:], client: String? = nil) async {
        let event = AuditEvent(type: type, actorDid: actor?.description, subject: subject, success: success,
                               details: details, clientAddress: client, timestamp: clock.now)
        do {
            _ = try await master.appendAudit(event)
        } catch {
            logger.critical("audit append failed", metadata: ["type": "\(type.rawValue)", "error": "\(error)"])
        }
    }
}
