import Foundation
import VivimCore
import VivimCrypto
import VivimStore

struct LinkView: Encodable {
    var id: String
    var code: String
    var intentId: String
    var url: String
    var maxUses: Int?
    var usesCount: Int
    var expiresAt: Date?
    var isActive: Bool
    var requiresPassword: Bool
    var zeroKnowledge: Bool
    var createdAt: Date

    init(_ stored: StoredShareLink, baseURL: String) {
        let link = stored.link
        id = link.id.rawValue
        code = link.code.rawValue
        intentId = link.intentID.rawValue
        url = baseURL + "/s/" + link.code.rawValue
        maxUses = link.maxUses
        usesCount = link.usesCount
        expiresAt = link.expiresAt
        isActive = link.isActive
        requiresPassword = stored.passwordHash != nil
        zeroKnowledge = stored.zeroKnowledge
        createdAt = link.createdAt
    }
}

/// What `GET /sharing/links/:code` shows anyone holding the code. With a password, nothing of
/// the share: not its content id, preview or permissions.
struct LinkInfoView: Encodable {
    struct Content: Encodable {
        var contentId: String?
        var preview: String?
        var permissions: Permissions?
    }
    var code: String
    var requiresPassword: Bool
    var zeroKnowledge: Bool
    var expiresAt: Date?
    var content: Content
}

struct LinkAccessView: Encodable {
    var contentId: String
    var permissions: Permissions
    var bundle: ContentBundle
    var zeroKnowledge: Bool
    var contentKey: String?
}

/// Share links (SPEC §6): random codes of 256 bits, scrypt password hashes compared in constant
/// time, guessing limited per client and per link, uses and expiry enforced atomically.
final class LinkService: Sendable {
    let master: any MasterStore
    let sharing: SharingService
    let content: ContentService
    let limits: RateLimitService
    let audit: AuditTrail
    let clock: any WallClock
    let hasher: PasswordHasher

    init(master: any MasterStore, sharing: SharingService, content: ContentService, limits: RateLimitService, audit: AuditTrail,
         clock: any WallClock, hasher: PasswordHasher) {
        self.master = master
        self.sharing = sharing
        self.content = content
        self.limits = limits
        self.audit = audit
        self.clock = clock
        self.hasher = hasher
    }

    func create(_ draft: ShareLinkDraft, caller: DID) async throws -> StoredShareLink {
        let now = clock.now
        let parsed = try draft.parse(now: now)
        let intent = try await sharing.visibleIntent(parsed.intentID, caller: caller)
        guard intent.mayUpdate(caller) else { throw VivimError.forbidden("only the owner, the actor or a co-owner may create links") }
        guard intent.spec.audience.type == .link || intent.spec.audience == .public else {
            throw VivimError.validation("links are for LINK and PUBLIC audiences; recipients of this intent open it with their own keys",
                                        field: "intentId")
        }
        guard [.validated, .active].contains(intent.status) else {
            throw VivimError(.conflict, "a \(intent.status.rawValue) intent cannot get new links", field: "intentId")
        }
        let passwordHash = try parsed.password.map { try hasher.hash($0) }
        let link = ShareLink(code: try ShareLinkCode(parsing: SecureRandom.token()), intentID: intent.id, creatorDid: caller,
                             maxUses: parsed.maxUses, expiresAt: parsed.expiresAt, requiresPassword: passwordHash != nil, createdAt: now)
        let stored = StoredShareLink(link: link, passwordHash: passwordHash, zeroKnowledge: intent.spec.audience.type == .link)
        try await master.insertLink(stored, events: [AnalyticsEvent(type: .linkCreated, actorDid: caller, subject: link.id.rawValue,
                                                                    properties: ["intent": intent.id.rawValue], at: now)])
        return stored
    }

    /// The link's state for a visitor; refusals as SPEC §6 (disabled looks like no link at all).
    func info(_ code: ShareLinkCode, client: String?) async throws -> LinkInfoView {
        _ = try await limits.require(.linkAccess, subjects: [.client(client ?? "unknown")])
        guard let stored = try await master.link(code: code), let intent = try await master.intent(stored.link.intentID) else {
            throw VivimError.notFound("share link not found")
        }
        try stored.link.state(at: clock.now, intentStatus: intent.status).requireActive()
        guard stored.passwordHash == nil else {
            return LinkInfoView(code: code.rawValue, requiresPassword: true, zeroKnowledge: stored.zeroKnowledge,
                                expiresAt: stored.link.expiresAt, content: .init())
        }
        let record = try await master.contentRecord(intentID: intent.id)
        return LinkInfoView(code: code.rawValue, requiresPassword: false, zeroKnowledge: stored.zeroKnowledge, expiresAt: stored.link.expiresAt,
                            content: .init(contentId: record?.contentId, preview: intent.spec.metadata.title ?? record?.title,
                                           permissions: intent.spec.permissions))
    }

    func access(_ code: ShareLinkCode, password: String?, client: String?) async throws -> LinkAccessView {
        let clientSubject = RateLimitSubject.client(client ?? "unknown")
        _ = try await limits.require(.linkAccess, subjects: [clientSubject, .client("link:" + code.rawValue)])
        guard let stored = try await master.link(code: code) else { throw VivimError.notFound("share link not found") }
        if let hash = stored.passwordHash {
            let guessing: [RateLimitSubject] = [clientSubject, .client("link:" + stored.link.id.rawValue)]
            guard await limits.peek(.linkPasswordFailure, subjects: guessing) else {
                await audit.record(.rateLimitExceeded, actor: nil, subject: stored.link.id.rawValue, success: false,
                                   details: ["action": "LINK_PASSWORD"], client: client)
                throw RateLimitExceeded(decision: await limits.consume(.linkPasswordFailure, subjects: guessing), action: .linkPasswordFailure)
            }
            guard let password, PasswordHasher.verify(password, against: hash) else {
                _ = await limits.consume(.linkPasswordFailure, subjects: guessing)
                await audit.record(.shareAccess, actor: nil, subject: stored.link.id.rawValue, success: false,
                                   details: ["reason": "WRONG_PASSWORD"], client: client)
                throw VivimError(.forbidden, password == nil ? "this link needs a password" : "wrong password",
                                 field: "password", details: ["reason": "PASSWORD"])
            }
        }
        switch try await master.useLink(code: code, now: clock.now) {
        case .notFound: throw VivimError.notFound("share link not found")
        case .refused(let state): try state.requireActive()
        case .used: break
        }
        guard let record = try await master.contentRecord(intentID: stored.link.intentID) else {
            throw VivimError.notFound("share link not found")
        }
        let view = try await content.access(record.contentId, caller: nil, viaLink: stored.link.intentID, client: client)
        try? await master.appendEvents([AnalyticsEvent(type: .linkClicked, actorDid: nil, subject: stored.link.id.rawValue,
                                                       properties: ["intent": stored.link.intentID.rawValue], at: clock.now)])
        return LinkAccessView(contentId: record.contentId, permissions: view.permissions, bundle: view.content,
                              zeroKnowledge: stored.zeroKnowledge, contentKey: stored.zeroKnowledge ? nil : view.contentKey)
    }

    func disable(_ code: ShareLinkCode, caller: DID) async throws {
        guard let stored = try await master.link(code: code) else { throw VivimError.notFound("share link not found") }
        if stored.link.creatorDid != caller {
            guard let intent = try await master.intent(stored.link.intentID), intent.mayUpdate(caller) else {
                throw VivimError.notFound("share link not found")
            }
        }
        _ = try await master.deactivateLink(stored.link.id)
    }
}
