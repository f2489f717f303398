import Foundation

/// The states of an intent (SPEC §5.2).
public enum IntentStatus: String, WireEnum {
    case draft = "DRAFT", pending = "PENDING", validated = "VALIDATED", active = "ACTIVE"
    case expired = "EXPIRED", revoked = "REVOKED", cancelled = "CANCELLED", archived = "ARCHIVED"

    /// The states this one may move to (SPEC §5.2):
    /// DRAFT→PENDING→VALIDATED→ACTIVE→EXPIRED→ARCHIVED; DRAFT|PENDING|VALIDATED→CANCELLED;
    /// ACTIVE→REVOKED; REVOKED|EXPIRED→ARCHIVED.
    public var allowedMoves: Set<IntentStatus> {
        switch self {
        case .draft: [.pending, .cancelled]
        case .pending: [.validated, .cancelled]
        case .validated: [.active, .cancelled]
        case .active: [.expired, .revoked]
        case .expired, .revoked: [.archived]
        case .cancelled, .archived: []
        }
    }

    public func canMove(to next: IntentStatus) -> Bool { allowedMoves.contains(next) }
}

extension SharingIntent {
    /// The intent after moving to `next` at `now`, with the version bumped and the matching
    /// timestamp set: `publishedAt` on ACTIVE, `expiresAt` on EXPIRED (if it had not passed
    /// yet), `revokedAt` and `revokedReason` on REVOKED. Illegal moves throw `CONFLICT`.
    public func moved(to next: IntentStatus, at now: Date, reason: String? = nil) throws(VivimError) -> SharingIntent {
        guard status.canMove(to: next) else {
            throw VivimError(.conflict, "an intent cannot move from \(status.rawValue) to \(next.rawValue)",
                             field: "status", details: ["from": status.rawValue, "to": next.rawValue])
        }
        var result = self
        result.status = next
        result.version += 1
        result.updatedAt = now
        switch next {
        case .active:
            result.publishedAt = now
        case .expired:
            if result.expiresAt.map({ $0 > now }) ?? true { result.expiresAt = now }
        case .revoked:
            result.revokedAt = now
            result.revokedReason = reason
        case .draft, .pending, .validated, .cancelled, .archived:
            break
        }
        return result
    }
}
