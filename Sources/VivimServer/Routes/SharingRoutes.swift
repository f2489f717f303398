import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VivimCore
import VivimCrypto
import VivimPipeline
import VivimStore

struct CreateIntentResponse: Encodable {
    var intent: SharingIntent
    var validation: ValidationReport
}

struct RevokeRequest: Decodable {
    var reason: String?
    var notifyRecipients: Bool?
}

struct LinkAccessRequest: Decodable { var password: String? }

struct DelegationRequest: Decodable {
    var delegateKey: String
    var notAfter: String
    var signature: String
}

struct PublishingKeyView: Encodable {
    var did: String
    var publicKey: String
    var delegation: PublishingDelegation?
}

struct PermissionCheckView: Encodable {
    var allowed: Bool
    var permission: String
    var expiresAt: Date?
    var reason: String?
    var contentId: String
    var userDid: String?
}

struct EffectivePermissionsView: Encodable {
    var contentId: String
    var userDid: String?
    var permissions: Permissions
    var isOwner: Bool
    var grants: [PermissionGrant]
}

extension Request {
    /// An optional RFC 3339 query value.
    func dateQuery(_ name: String) throws -> Date? {
        guard let text = try stringQuery(name, maxLength: 64) else { return nil }
        return try RFC3339.parse(text, field: name)
    }

    func enumQuery<T: WireEnum>(_ name: String, as type: T.Type) throws -> T? {
        guard let text = try stringQuery(name, maxLength: 64) else { return nil }
        return try T(parsing: text, field: name)
    }

    /// Reads the body once; an empty body is `empty`.
    func decodeOptionalJSON<T: Decodable>(as type: T.Type, limit: Int, empty: T) async throws -> T {
        let buffer = try await collectBody(limit: limit)
        guard buffer.readableBytes > 0 else { return empty }
        return try decodeBody(T.self, from: Data(buffer: buffer))
    }

    /// The JSON body as bytes, for decoding into two shapes.
    func jsonBytes(limit: Int) async throws -> Data {
        let buffer = try await collectBody(limit: limit)
        guard buffer.readableBytes > 0 else { throw VivimError.validation("request body is required") }
        return Data(buffer: buffer)
    }

    /// The server's public base URL: the configured one, else this request's Host (validated).
    func baseURL(configured: String?) -> String {
        if let configured { return configured }
        let host = head.authority ?? "127.0.0.1"
        let safe = host.utf8.count <= 255 && host.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == 0x2e || $0 == 0x2d || $0 == 0x3a || $0 == 0x5b || $0 == 0x5d }
        return "http://" + (safe ? host : "127.0.0.1")
    }
}

extension VivimServerApp {
    func addSharingRoutes(_ routes: RouteBuilder) {
        let services = self.services, limit = configuration.bodyLimit, publicURL = configuration.publicURL
        let sharing = services.sharing, links = services.links, content = services.content, master = services.master

        // MARK: Intents (SPEC §5.5)

        routes.add(.post, "/api/v1/sharing/intents", rateLimit: .createIntent) { request, context in
            let caller = try context.requireCaller()
            let bytes = try await request.jsonBytes(limit: limit)
            let draft = try decodeBody(SharingIntentDraft.self, from: bytes)
            let envelope = try decodeBody(IntentSignatureEnvelope.self, from: bytes)
            let (intent, report) = try await sharing.create(draft, signature: envelope, caller: caller.did, client: context.clientAddress)
            return try context.respond(CreateIntentResponse(intent: intent, validation: report), status: .created)
        }

        routes.add(.get, "/api/v1/sharing/intents", rateLimit: .listIntents) { request, context in
            let caller = try context.requireCaller()
            let page = try request.pageRequest()
            let sortText = try request.stringQuery("sortBy", maxLength: 32) ?? "createdAt"
            guard let sortBy = IntentQuery.SortField(rawValue: sortText) else {
                throw VivimError.validation("sortBy must be createdAt or publishedAt", field: "sortBy")
            }
            let orderText = (try request.stringQuery("sortOrder", maxLength: 8) ?? "desc").lowercased()
            guard orderText == "asc" || orderText == "desc" else { throw VivimError.validation("sortOrder must be asc or desc", field: "sortOrder") }
            let query = IntentQuery(did: caller.did, status: try request.enumQuery("status", as: IntentStatus.self),
                                    contentType: try request.enumQuery("contentType", as: ContentType.self),
                                    audienceType: try request.enumQuery("audienceType", as: AudienceType.self),
                                    createdFrom: try request.dateQuery("startDate"), createdUntil: try request.dateQuery("endDate"),
                                    sortBy: sortBy, descending: orderText == "desc", page: PageRequest(page: page.page, pageSize: page.pageSize))
            return try context.respond(page: try await sharing.list(query)) { $0 }
        }

        routes.add(.get, "/api/v1/sharing/intents/:id") { _, context in
            let caller = try context.requireCaller()
            let id = try IntentID(parsing: try context.parameter("id"))
            return try context.respond(try await sharing.visibleIntent(id, caller: caller.did))
        }

        routes.add(.patch, "/api/v1/sharing/intents/:id") { request, context in
            let caller = try context.requireCaller()
            let id = try IntentID(parsing: try context.parameter("id"))
            let patch = try await request.decodeJSON(as: SharingIntentDraft.self, limit: limit)
            let (intent, report) = try await sharing.update(id, patch: patch, caller: caller.did, client: context.clientAddress)
            return try context.respond(CreateIntentResponse(intent: intent, validation: report))
        }

        routes.add(.post, "/api/v1/sharing/intents/:id/publish") { _, context in
            let caller = try context.requireCaller()
            let id = try IntentID(parsing: try context.parameter("id"))
            return try context.respond(try await sharing.publish(id, caller: caller.did, client: context.clientAddress))
        }

        routes.add(.post, "/api/v1/sharing/intents/:id/revoke") { request, context in
            let caller = try context.requireCaller()
            let id = try IntentID(parsing: try context.parameter("id"))
            let body = try await request.decodeOptionalJSON(as: RevokeRequest.self, limit: limit, empty: RevokeRequest())
            let reason = try optionalText(body.reason, field: "reason", max: 1_000)
            return try context.respond(try await sharing.revoke(id, caller: caller.did, reason: reason, notify: body.notifyRecipients ?? true,
                                                                client: context.clientAddress))
        }

        routes.add(.post, "/api/v1/sharing/intents/:id/cancel") { _, context in
            let caller = try context.requireCaller()
            let id = try IntentID(parsing: try context.parameter("id"))
            return try context.respond(try await sharing.cancel(id, caller: caller.did))
        }

        for (path, accept) in [("accept", true), ("decline", false)] {
            routes.add(.post, "/api/v1/sharing/intents/:id/\(path)") { _, context in
                let caller = try context.requireCaller()
                let id = try IntentID(parsing: try context.parameter("id"))
                let response = try await sharing.respond(id, caller: caller.did, accept: accept)
                return try context.respond(["intentId": id.rawValue, "response": response.rawValue])
            }
        }

        routes.add(.get, "/api/v1/sharing/received", rateLimit: .listIntents) { request, context in
            let caller = try context.requireCaller()
            let page = try request.pageRequest()
            return try context.respond(page: try await sharing.received(by: caller.did, page: PageRequest(page: page.page, pageSize: page.pageSize))) { $0 }
        }

        routes.add(.get, "/api/v1/sharing/suggestions") { request, context in
            let caller = try context.requireCaller()
            guard let text = try request.stringQuery("contentId", maxLength: 64) else {
                throw VivimError.validation("contentId is required", field: "contentId")
            }
            return try context.respond(try await sharing.suggestions(for: try ContentID(parsing: text, field: "contentId"), caller: caller.did))
        }

        // MARK: Links (SPEC §6)

        routes.add(.post, "/api/v1/sharing/links", rateLimit: .createLink) { request, context in
            let caller = try context.requireCaller()
            let draft = try await request.decodeJSON(as: ShareLinkDraft.self, limit: limit)
            let stored = try await links.create(draft, caller: caller.did)
            let view = LinkView(stored, baseURL: request.baseURL(configured: publicURL))
            struct Created: Encodable { var link: LinkView; var url: String }
            return try context.respond(Created(link: view, url: view.url), status: .created)
        }

        routes.add(.get, "/api/v1/sharing/links") { request, context in
            let caller = try context.requireCaller()
            let page = try request.pageRequest()
            let base = request.baseURL(configured: publicURL)
            let result = try await master.links(createdBy: caller.did, page: PageRequest(page: page.page, pageSize: page.pageSize))
            return try context.respond(page: result) { LinkView($0, baseURL: base) }
        }

        routes.add(.get, "/api/v1/sharing/links/:code", authenticated: false) { _, context in
            let code = try ShareLinkCode(parsing: try context.parameter("code"))
            return try context.respond(try await links.info(code, client: context.clientAddress))
        }

        routes.add(.post, "/api/v1/sharing/links/:code/access", authenticated: false) { request, context in
            let code = try ShareLinkCode(parsing: try context.parameter("code"))
            let body = try await request.decodeOptionalJSON(as: LinkAccessRequest.self, limit: 16 << 10, empty: LinkAccessRequest())
            return try context.respond(try await links.access(code, password: body.password, client: context.clientAddress))
        }

        routes.add(.delete, "/api/v1/sharing/links/:code") { _, context in
            let caller = try context.requireCaller()
            let code = try ShareLinkCode(parsing: try context.parameter("code"))
            try await links.disable(code, caller: caller.did)
            return try context.respond(["disabled": code.rawValue])
        }

        // MARK: Permissions (SPEC §5.4)

        @Sendable func resolve(_ request: Request, _ context: VivimRequestContext) async throws -> (String, DID?, EffectivePermissions) {
            let caller = try context.requireCaller()
            let raw = try context.parameter("contentId")
            let userDid = try request.stringQuery("userDid", maxLength: 256).map { try DID(parsing: $0) } ?? caller.did
            let resolver = PermissionService(master: master, clock: services.clock)
            // A published content id (64 hex) stands for its record's sources, through its intent.
            let contentID: ContentID
            var owner: DID?
            if BundleStore.isContentID(raw) {
                guard let record = try await master.contentRecord(contentId: raw), let source = record.sourceIDs.first else {
                    throw VivimError.notFound("content not found")
                }
                contentID = source
                owner = record.ownerDid
            } else {
                contentID = try ContentID(parsing: raw, field: "contentId")
                if services.userDatabases.exists(for: caller.did),
                   try await services.userDatabases.database(for: caller.did).ownedConversations([contentID.rawValue]).contains(contentID.rawValue) {
                    owner = caller.did
                }
            }
            if userDid != caller.did {
                // Only the content's owner may ask about someone else.
                let mine = try await resolver.effective(contentID: contentID, owner: owner, asker: caller.did)
                guard mine.isOwner else {
                    if mine.grants.isEmpty { throw VivimError.notFound("content not found") }
                    throw VivimError.forbidden("only the content's owner may check another user's permissions")
                }
            }
            return (raw, userDid, try await resolver.effective(contentID: contentID, owner: owner, asker: userDid))
        }

        routes.add(.get, "/api/v1/permissions/:contentId/check") { request, context in
            guard let text = try request.stringQuery("permission", maxLength: 32) else {
                throw VivimError.validation("permission is required", field: "permission")
            }
            let permission = try Permission(parsing: text, field: "permission")
            let (contentId, userDid, effective) = try await resolve(request, context)
            let check = effective.check(permission)
            return try context.respond(PermissionCheckView(allowed: check.allowed, permission: permission.rawValue, expiresAt: check.expiresAt,
                                                           reason: check.reason?.rawValue, contentId: contentId, userDid: userDid?.description))
        }

        routes.add(.get, "/api/v1/permissions/:contentId/effective") { request, context in
            let (contentId, userDid, effective) = try await resolve(request, context)
            return try context.respond(EffectivePermissionsView(contentId: contentId, userDid: userDid?.description, permissions: effective.permissions,
                                                                isOwner: effective.isOwner, grants: effective.grants))
        }

        // MARK: Content access (SPEC §7.6)

        routes.add(.get, "/api/v1/content/:contentId", access: .optional, rateLimit: .content) { _, context in
            let contentId = try context.parameter("contentId")
            guard BundleStore.isContentID(contentId) else { throw VivimError.validation("contentId must be 64 lower-case hex characters", field: "contentId") }
            return try context.respond(try await content.access(contentId, caller: context.caller?.did, client: context.clientAddress))
        }

        routes.add(.get, "/api/v1/content", access: .optional, rateLimit: .content) { request, context in
            let page = try request.pageRequest()
            let tags = try request.stringQuery("tags", maxLength: 1_000).map {
                $0.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
            } ?? []
            guard tags.count <= InputLimits.maxArrayCount else { throw VivimError.validation("at most 100 tags", field: "tags") }
            let query = ContentQuery(text: try request.stringQuery("q", maxLength: 200),
                                     ownerDid: try request.stringQuery("ownerDid", maxLength: 256).map { try DID(parsing: $0) },
                                     contentType: try request.enumQuery("contentType", as: ContentType.self), tags: tags,
                                     audienceType: try request.enumQuery("audience", as: AudienceType.self),
                                     page: PageRequest(page: page.page, pageSize: page.pageSize))
            let result = try await content.search(query, caller: context.caller?.did, sharing: sharing)
            return try context.respond(page: result) {
                ContentSummaryView(contentId: $0.contentId, intentId: $0.intentID.rawValue, ownerDid: $0.ownerDid.description,
                                   contentType: $0.contentType.rawValue, audience: $0.audienceType.rawValue, title: $0.title, tags: $0.tags,
                                   size: $0.size, publishedAt: $0.createdAt)
            }
        }

        // MARK: Publishing key and circle keys

        routes.add(.get, "/api/v1/users/me/publishing-key") { _, context in
            let caller = try context.requireCaller()
            let record = try await services.publishingKeys.key(for: caller.did, now: services.clock.now)
            return try context.respond(PublishingKeyView(did: caller.did.description, publicKey: Base64URL.encode(record.publicKey),
                                                         delegation: services.publishingKeys.delegation(of: record)))
        }

        routes.add(.put, "/api/v1/users/me/publishing-key") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(as: DelegationRequest.self, limit: limit)
            guard let key = Base64URL.decode(body.delegateKey), let signature = Base64URL.decode(body.signature), body.notAfter.utf8.count <= 64 else {
                throw VivimError.validation("delegateKey and signature must be base64url", field: "delegateKey")
            }
            let delegation = PublishingDelegation(delegateKey: key, notAfter: body.notAfter, signature: signature)
            try await services.publishingKeys.acceptDelegation(delegation, for: caller.did, now: services.clock.now)
            let record = try await services.publishingKeys.key(for: caller.did, now: services.clock.now)
            return try context.respond(PublishingKeyView(did: caller.did.description, publicKey: Base64URL.encode(record.publicKey),
                                                         delegation: delegation))
        }

        routes.add(.get, "/api/v1/circles/:id/keys") { _, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let (_, membership) = try await services.circles.load(id, caller: caller.did)
            guard membership != nil else { throw VivimError.forbidden("only members hold the circle's keys") }
            return try context.respond(try await services.circleKeys.capsules(of: caller.did, circle: id))
        }

        // MARK: Circle shares (SPEC §3)

        routes.add(.post, "/api/v1/circles/:id/shares", rateLimit: .createIntent) { request, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            var draft = try await request.decodeJSON(as: SharingIntentDraft.self, limit: limit)
            draft.audience = SharingIntentDraft.AudienceDraft(type: "CIRCLE", circleIds: [id.rawValue])
            let (intent, report) = try await sharing.create(draft, signature: IntentSignatureEnvelope(), caller: caller.did, client: context.clientAddress)
            return try context.respond(CreateIntentResponse(intent: intent, validation: report), status: .created)
        }

        routes.add(.get, "/api/v1/circles/:id/shares") { request, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let (_, membership) = try await services.circles.load(id, caller: caller.did)
            guard membership != nil else { throw VivimError.forbidden("only members see the circle's shares") }
            let page = try request.pageRequest()
            let shares = try await master.receivedIntents(did: DID.nobody, circleIDs: [id], page: PageRequest(page: page.page, pageSize: page.pageSize))
            struct CircleShare: Encodable { var intent: SharingIntent; var contentId: String?; var views: Int }
            var items: [CircleShare] = []
            let views = try await master.viewCounts(of: shares.items.map(\.id))
            for intent in shares.items {
                items.append(CircleShare(intent: intent, contentId: try await master.contentRecord(intentID: intent.id)?.contentId,
                                         views: views[intent.id] ?? 0))
            }
            struct Totals: Encodable { var shares: Int; var items: [CircleShare] }
            return try context.respond(Totals(shares: shares.totalItems, items: items), pagination: PaginationMeta(shares))
        }

        // MARK: Zero-knowledge link viewer (SPEC §6)

        routes.add(.get, "/s/assets/:file", authenticated: false) { _, context in
            let file = try context.parameter("file")
            guard let asset = ViewerAssets.asset(named: file) else { throw VivimError.notFound("no such asset") }
            return ViewerAssets.response(asset)
        }

        routes.add(.get, "/s/:code", authenticated: false) { _, context in
            _ = try ShareLinkCode(parsing: try context.parameter("code"))
            guard let page = ViewerAssets.asset(named: "viewer.html") else { throw VivimError.notFound("viewer unavailable") }
            return ViewerAssets.response(page)
        }
    }
}

extension DID {
    /// A DID no one has, for queries that must not match the caller.
    static let nobody = try! DID(ed25519PublicKey: Array(repeating: 0, count: 32))
}

/// The viewer page and its assets, with headers that keep the fragment's key in the page:
/// a strict CSP (no inline script, no third parties), no referrer, no caching.
enum ViewerAssets {
    struct Asset { var bytes: [UInt8]; var contentType: String }

    static let assets: [String: Asset] = {
        var assets: [String: Asset] = [:]
        for (name, type) in [("viewer.html", "text/html; charset=utf-8"), ("viewer.js", "text/javascript; charset=utf-8"),
                             ("viewer.css", "text/css; charset=utf-8")] {
            let parts = name.split(separator: ".")
            if let url = Bundle.module.url(forResource: String(parts[0]), withExtension: String(parts[1]), subdirectory: "viewer"),
               let data = try? Data(contentsOf: url) {
                assets[name] = Asset(bytes: Array(data), contentType: type)
            }
        }
        return assets
    }()

    static func asset(named name: String) -> Asset? { assets[name] }

    static func response(_ asset: Asset) -> Response {
        Response(status: .ok, headers: [
            .contentType: asset.contentType,
            .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            .cacheControl: "no-store",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ], body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
