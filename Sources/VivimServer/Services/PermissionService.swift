import Foundation
import VivimCore
import VivimStore

/// Gathers the facts of SPEC §5.4 for one (content, asker) pair and lets `PermissionResolver`
/// decide. Memberships are read per request, so leaving a circle takes effect on the next one.
struct PermissionService: Sendable {
    let master: any MasterStore
    let clock: any WallClock

    /// Effective permissions over every ACTIVE intent covering `contentID`. `owner` is the
    /// content's owner when known (else taken from the intents).
    func effective(contentID: ContentID, owner: DID?, asker: DID?, linkGrants: Set<IntentID> = []) async throws -> EffectivePermissions {
        let intents = try await master.activeIntents(covering: contentID)
        guard let contentOwner = owner ?? intents.first?.ownerDid else {
            return EffectivePermissions(permissions: .none, isOwner: false, grants: [])
        }
        return try await effective(contentID: contentID, owner: contentOwner, asker: asker, intents: intents, linkGrants: linkGrants)
    }

    /// Effective permissions over the given intents only (content access through one record).
    func effective(contentID: ContentID, owner: DID, asker: DID?, intents: [SharingIntent],
                   linkGrants: Set<IntentID> = []) async throws -> EffectivePermissions {
        if asker == owner { return .owner() }
        var facts = ResolutionFacts(did: asker, linkGrants: linkGrants, now: clock.now)
        if let asker {
            let circles = Set(intents.flatMap(\.spec.audience.circleIDs))
            for circle in circles where try await master.member(asker, of: circle) != nil {
                facts.circleMemberships.insert(circle)
            }
            for intent in intents {
                if case .condition(.recipientLeavesCircle(let circle)) = intent.spec.expiration,
                   try await master.member(asker, of: circle) != nil {
                    facts.circleMemberships.insert(circle)
                }
            }
            facts.responses = try await master.responses(of: asker, to: intents.map(\.id))
        }
        let budgeted = intents.filter { $0.spec.maxViews != nil }.map(\.id)
        facts.viewCounts = try await master.viewCounts(of: budgeted)
        return PermissionResolver.effective(contentID: contentID, contentOwner: owner, intents: intents, facts: facts)
    }
}
