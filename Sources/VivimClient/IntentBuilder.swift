import Foundation
import VivimCore
import VivimCrypto

/// Builds a sharing intent fluently on the client (SPEC §5.1), and signs it with the actor's key:
///
/// ```swift
/// let draft = try IntentBuilder(owner: me.did)
///     .content(.conversation, ids: [conversationID])
///     .audience(.users([bob]))
///     .permissions(.init(view: true, copy: true))
///     .expires(at: nextWeek)
///     .redactPersonalInfo()
///     .watermark("shared with Bob")
///     .title("Merkle trees")
///     .build()
/// ```
///
/// `build()` checks the result with the same parser the server uses, so an impossible intent
/// fails here, with the same field paths, before any request.
public struct IntentBuilder: Sendable {
    public private(set) var spec: IntentSpec
    let owner: DID

    public init(owner: DID) {
        self.owner = owner
        spec = IntentSpec(content: IntentContent(type: .conversation, ids: []), audience: .users([]))
    }

    public func type(_ type: IntentType) -> Self { with { $0.spec.intentType = type } }

    public func content(_ type: ContentType, ids: [ContentID], scope: ContentScope = .full) -> Self {
        with { $0.spec.content = IntentContent(type: type, ids: ids, scope: scope) }
    }

    public func content(conversation id: String) throws -> Self {
        content(.conversation, ids: [try ContentID(parsing: id, field: "content.ids[0]")])
    }

    public func partial(include: [ACUID] = [], exclude: [ACUID] = []) -> Self {
        with {
            $0.spec.content.scope = .partial
            $0.spec.content.includeACUs = include.isEmpty ? nil : include
            $0.spec.content.excludeACUs = exclude.isEmpty ? nil : exclude
        }
    }

    public func audience(_ audience: Audience) -> Self { with { $0.spec.audience = audience } }
    public func toPublic() -> Self { audience(.public) }
    public func toCircles(_ ids: [CircleID]) -> Self { audience(.circles(ids)) }
    public func toUsers(_ dids: [DID]) -> Self { audience(.users(dids)) }
    public func viaLink() -> Self { audience(.link(nil)) }

    public func permissions(_ permissions: Permissions) -> Self { with { $0.spec.permissions = permissions } }

    public func publish(at date: Date) -> Self {
        with { $0.spec.schedule = Schedule(publishAt: date, expiresAt: $0.spec.schedule?.expiresAt, timezone: $0.spec.schedule?.timezone) }
    }

    public func expires(at date: Date) -> Self {
        with {
            $0.spec.schedule = Schedule(publishAt: $0.spec.schedule?.publishAt, expiresAt: date, timezone: $0.spec.schedule?.timezone)
            $0.spec.expiration = .time
        }
    }

    public func maxViews(_ count: Int) -> Self { with { $0.spec.expiration = .access(maxViews: count) } }

    public func untilRecipientLeaves(_ circle: CircleID) -> Self {
        with { $0.spec.expiration = .condition(.recipientLeavesCircle(circle)) }
    }

    public func transform(_ change: (inout Transformations) -> Void) -> Self {
        with {
            var transformations = $0.spec.transformations ?? Transformations()
            change(&transformations)
            $0.spec.transformations = transformations
        }
    }

    public func removeSystemMessages() -> Self { transform { $0.removeSystemMessages = true } }
    public func removeToolCalls() -> Self { transform { $0.removeToolCalls = true } }
    public func removeImages() -> Self { transform { $0.removeImages = true } }
    public func redactPersonalInfo() -> Self { transform { $0.redactPersonalInfo = true } }
    public func anonymizeUserMessages() -> Self { transform { $0.anonymizeUserMessages = true } }
    public func anonymizeAIMessages() -> Self { transform { $0.anonymizeAIMessages = true } }
    public func notes() -> Self { transform { $0.addNotes = true } }
    public func watermark(_ text: String? = nil, position: WatermarkPosition = .bottomRight, includeTimestamp: Bool = false) -> Self {
        transform { $0.addWatermark = Watermark(text: text, position: position, includeTimestamp: includeTimestamp) }
    }
    public func attribution(_ attribution: Attribution = Attribution()) -> Self { transform { $0.addAttribution = attribution } }

    public func title(_ title: String) -> Self { with { $0.spec.metadata.title = title } }
    public func describe(_ text: String) -> Self { with { $0.spec.metadata.description = text } }
    public func tags(_ tags: [String]) -> Self { with { $0.spec.metadata.tags = tags } }
    public func requireAcceptance(_ required: Bool = true) -> Self { with { $0.spec.policy.requireAcceptance = required } }
    public func coOwners(_ dids: [DID], vetoPower: Bool = false) -> Self {
        with {
            $0.spec.coOwners = dids
            $0.spec.vetoPower = vetoPower
        }
    }

    /// The draft, checked by the shared parser and the server's coherence rules (field paths as
    /// the server reports them). Facts only the server knows — ownership, circles, registered
    /// users — are left to the server.
    public func build() throws -> SharingIntentDraft {
        let draft = SharingIntentDraft(spec)
        let report = IntentValidator.validate(draft, actor: owner, facts: ValidationFacts(now: Date()))
        let factual: Set<IssueCode> = [.notOwned, .notFound, .notAllowed, .notRegistered]
        if let first = report.errors.first(where: { !factual.contains($0.code) }) { throw first.asError }
        return draft
    }

    /// The draft as the JSON body of `POST /sharing/intents`, with a client-chosen id and time
    /// and the actor's Ed25519 signature over the intent (the server verifies and keeps it).
    public func signedBody(by identity: SigningIdentity, now: Date = Date()) throws -> Data {
        let draft = try build()
        // The server reads createdAt back from this text; sign exactly the date it will read.
        let createdAtText = RFC3339.format(now)
        let createdAt = try RFC3339.parse(createdAtText, field: "createdAt")
        let intent = SharingIntent(id: IntentID(), ownerDid: owner, actorDid: identity.did, spec: spec, createdAt: createdAt)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var object = try JSONSerialization.jsonObject(with: encoder.encode(draft)) as? [String: Any] ?? [:]
        object["id"] = intent.id.rawValue
        object["createdAt"] = createdAtText
        object["signature"] = identity.signBase64URL(intent.signingPayload())
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    private func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}
