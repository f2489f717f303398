import ArgumentParser
import Foundation
import NIOHTTP1
import VivimClient
import VivimCore
import VivimCrypto

/// `vivim share …`: sharing intents (SPEC §5).
struct ShareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share", abstract: "Create, publish and manage sharing intents.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Publish.self, Revoke.self, Accept.self, Decline.self, Received.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an intent (signed with your key); --publish to publish it at once.")
        @OptionGroup var options: ClientOptions
        @Option(name: .customLong("conversation"), help: "A conversation id (repeatable).") var conversations: [String] = []
        @Option(name: .customLong("to-user"), help: "A recipient DID (repeatable).") var users: [String] = []
        @Option(name: .customLong("to-circle"), help: "A circle id (repeatable).") var circles: [String] = []
        @Flag(name: .customLong("public"), help: "Share with everyone.") var toPublic = false
        @Flag(name: .customLong("link"), help: "Share through a zero-knowledge link.") var viaLink = false
        @Option(help: "Permissions, comma-separated: view,copy,annotate,remix,share,download.") var allow = "view"
        @Option(name: .customLong("publish-at"), help: "RFC 3339 time to publish at.") var publishAt: String?
        @Option(help: "RFC 3339 time the share ends.") var expires: String?
        @Option(name: .customLong("max-views"), help: "End after this many views.") var maxViews: Int?
        @Flag(help: "Redact personal information.") var redact = false
        @Flag(name: .customLong("remove-system"), help: "Remove system messages.") var removeSystem = false
        @Flag(name: .customLong("remove-tools"), help: "Remove tool calls and results.") var removeTools = false
        @Flag(name: .customLong("remove-images"), help: "Remove images.") var removeImages = false
        @Flag(name: .customLong("anonymize"), help: "Anonymize user and AI messages.") var anonymize = false
        @Option(help: "Watermark text.") var watermark: String?
        @Flag(help: "Add attribution.") var attribution = false
        @Option(help: "Title.") var title: String?
        @Option(help: "Tags, comma-separated.") var tags: String?
        @Flag(name: .customLong("require-acceptance"), help: "Recipients must accept first.") var requireAcceptance = false
        @Flag(help: "Publish right after creating.") var publish = false

        func run() async throws {
            try await runClient {
                let identity = try options.keyStore.load()
                guard !conversations.isEmpty else { throw CLIError("name at least one --conversation") }
                var builder = IntentBuilder(owner: identity.signing.did)
                    .content(.conversation, ids: try conversations.enumerated().map { try ContentID(parsing: $1, field: "conversation[\($0)]") })
                let audiences = [!users.isEmpty, !circles.isEmpty, toPublic, viaLink].filter { $0 }.count
                guard audiences == 1 else { throw CLIError("choose exactly one audience: --to-user, --to-circle, --public or --link") }
                if !users.isEmpty { builder = builder.toUsers(try users.map { try DID(parsing: $0) }) }
                if !circles.isEmpty { builder = builder.toCircles(try circles.map { try CircleID(parsing: $0, field: "to-circle") }) }
                if toPublic { builder = builder.toPublic() }
                if viaLink { builder = builder.viaLink() }
                builder = builder.permissions(try parsePermissions(allow))
                if let publishAt { builder = builder.publish(at: try RFC3339.parse(publishAt, field: "publish-at")) }
                if let expires { builder = builder.expires(at: try RFC3339.parse(expires, field: "expires")) }
                if let maxViews { builder = builder.maxViews(maxViews) }
                if redact { builder = builder.redactPersonalInfo() }
                if removeSystem { builder = builder.removeSystemMessages() }
                if removeTools { builder = builder.removeToolCalls() }
                if removeImages { builder = builder.removeImages() }
                if anonymize { builder = builder.anonymizeUserMessages().anonymizeAIMessages() }
                if let watermark { builder = builder.watermark(watermark) }
                if attribution { builder = builder.attribution() }
                if let title { builder = builder.title(title) }
                if let tags { builder = builder.tags(tags.split(separator: ",").map(String.init)) }
                if requireAcceptance { builder = builder.requireAcceptance() }
                let client = try options.client()
                let created = try await client.createIntent(builder, signedBy: identity.signing)
                guard publish, let id = created.data["intent"]?["id"]?.string else {
                    options.output(created.data) { describe(intent: $0["intent"] ?? .null) + warnings($0["validation"]) }
                    return
                }
                let published = try await publishIntent(id, client: client, keyStore: options.keyStore)
                options.output(.object(["intent": created.data["intent"] ?? .null, "publish": published])) { _ in
                    describe(intent: created.data["intent"] ?? .null) + "\n" + describe(publish: published, intentID: id)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your intents.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Filter by status.") var status: String?
        @Option var page = 1
        func run() async throws {
            try await runClient {
                var path = "/api/v1/sharing/intents?page=\(page)&pageSize=50"
                if let status { path += "&status=\(status)" }
                let response = try await options.client().send(.GET, path)
                options.output(response.data) { value in
                    (value.array ?? []).map(describe(intent:)).joined(separator: "\n").ifEmpty("no intents")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One intent.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.GET, "/api/v1/sharing/intents/\(try IntentID(parsing: id))")
                options.output(response.data) { $0.pretty() }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an intent's permissions, end or title.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "Permissions, comma-separated.") var allow: String?
        @Option(help: "RFC 3339 time the share ends.") var expires: String?
        @Option(help: "Title.") var title: String?
        func run() async throws {
            try await runClient {
                var patch: [String: JSONValue] = [:]
                if let allow {
                    let p = try parsePermissions(allow)
                    patch["permissions"] = .object(["view": .bool(p.view), "copy": .bool(p.copy), "annotate": .bool(p.annotate),
                                                    "remix": .bool(p.remix), "share": .bool(p.share), "download": .bool(p.download)])
                }
                if let expires {
                    patch["schedule"] = .object(["expiresAt": .string(expires)])
                    patch["expiration"] = .object(["type": .string("time")])
                }
                if let title { patch["metadata"] = .object(["title": .string(title)]) }
                guard !patch.isEmpty else { throw CLIError("nothing to change: --allow, --expires or --title") }
                let response = try await options.client().send(.PATCH, "/api/v1/sharing/intents/\(try IntentID(parsing: id))", json: .object(patch))
                options.output(response.data) { describe(intent: $0["intent"] ?? .null) + warnings($0["validation"]) }
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish an intent now (encrypt, sign, store, distribute).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await runClient {
                let published = try await publishIntent(try IntentID(parsing: id).rawValue, client: try options.client(), keyStore: options.keyStore)
                options.output(published) { describe(publish: $0, intentID: id) }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an ACTIVE intent: its content stops being served.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option var reason: String?
        func run() async throws {
            try await runClient {
                var body: [String: JSONValue] = [:]
                if let reason { body["reason"] = .string(reason) }
                let response = try await options.client().send(.POST, "/api/v1/sharing/intents/\(try IntentID(parsing: id))/revoke", json: .object(body))
                options.output(response.data) { describe(intent: $0) }
            }
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept a share made to you.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws { try await respond(options, id, "accept") }
    }

    struct Decline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decline a share made to you.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws { try await respond(options, id, "decline") }
    }

    struct Received: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Shares made to you.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.GET, "/api/v1/sharing/received?pageSize=100")
                options.output(response.data) { value in
                    (value.array ?? []).map { "\($0["contentId"]?.string ?? "-")  from \($0["intent"]?["ownerDid"]?.string ?? "")  \($0["intent"]?["title"]?.string ?? "")  [\($0["response"]?.string ?? "")]" }
                        .joined(separator: "\n").ifEmpty("nothing shared with you yet")
                }
            }
        }
    }
}

func respond(_ options: ClientOptions, _ id: String, _ answer: String) async throws {
    try await runClient {
        let response = try await options.client().send(.POST, "/api/v1/sharing/intents/\(try IntentID(parsing: id))/\(answer)")
        options.output(response.data) { "\($0["response"]?.string ?? "") \($0["intentId"]?.string ?? "")" }
    }
}

/// Publishes, keeping a zero-knowledge link's key on this device (it is shown once).
func publishIntent(_ id: String, client: VivimAPIClient, keyStore: KeyStore) async throws -> JSONValue {
    let published = try await client.send(.POST, "/api/v1/sharing/intents/\(id)/publish").data
    if let key = published["linkKey"]?.string { try keyStore.saveLinkKey(key, intentID: id) }
    return published
}

func parsePermissions(_ text: String) throws -> Permissions {
    var permissions = Permissions.none
    for name in text.split(separator: ",") {
        permissions[try Permission(parsing: name.trimmingCharacters(in: .whitespaces), field: "allow")] = true
    }
    return permissions
}

func describe(intent: JSONValue) -> String {
    let audience = intent["audience"]?["type"]?.string ?? "?"
    return "\(intent["id"]?.string ?? "")  \(intent["status"]?.string ?? "")  \(audience)  v\(Int(intent["version"]?.number ?? 0))  \(intent["metadata"]?["title"]?.string ?? "")"
}

func describe(publish: JSONValue, intentID: String) -> String {
    var lines = ["published \(publish["contentId"]?.string ?? "") (\(Int(publish["distribution"]?["replicas"]?.number ?? 0)) replica(s))"]
    if let key = publish["linkKey"]?.string {
        lines.append("link key (kept in your home, shown once by the server): \(key)")
        lines.append("create a link with: vivim links create \(intentID)")
    }
    return lines.joined(separator: "\n")
}

func warnings(_ validation: JSONValue?) -> String {
    let items = (validation?["warnings"]?.array ?? []).map { "  warning \($0["field"]?.string ?? ""): \($0["message"]?.string ?? "")" }
        + (validation?["suggestions"]?.array ?? []).map { "  suggestion \($0["field"]?.string ?? ""): \($0["message"]?.string ?? "")" }
    return items.isEmpty ? "" : "\n" + items.joined(separator: "\n")
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}

/// `vivim links …`: share links (SPEC §6).
struct LinksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "links", abstract: "Share links.",
                                                    subcommands: [Create.self, List.self, Disable.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A link to a LINK or PUBLIC intent; prints the URL (with the key for zero-knowledge links).")
        @OptionGroup var options: ClientOptions
        @Argument var intentId: String
        @Option(name: .customLong("max-uses")) var maxUses: Int?
        @Option(help: "RFC 3339 time the link ends.") var expires: String?
        @Option(help: "A password (8+ characters); prefer VIVIM_LINK_PASSWORD to keep it out of your shell history.") var password: String?
        @Option(help: "The content key for the fragment, if not kept in your home.") var key: String?
        func run() async throws {
            try await runClient {
                var body: [String: JSONValue] = ["intentId": .string(intentId)]
                if let maxUses { body["maxUses"] = .number(Double(maxUses)) }
                if let expires { body["expiresAt"] = .string(expires) }
                if let secret = password ?? environment("LINK_PASSWORD") { body["password"] = .string(secret) }
                let response = try await options.client().send(.POST, "/api/v1/sharing/links", json: .object(body))
                var url = response.data["url"]?.string ?? ""
                if response.data["link"]?["zeroKnowledge"] == .bool(true) {
                    guard let fragment = key ?? options.keyStore.linkKey(intentID: intentId) else {
                        throw CLIError("this is a zero-knowledge link and its key is not in \(options.keyStore.home); pass --key")
                    }
                    url += "#" + fragment
                }
                options.output(.object(["link": response.data["link"] ?? .null, "url": .string(url)])) { _ in url }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Links you created.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.GET, "/api/v1/sharing/links?pageSize=100")
                options.output(response.data) { value in
                    (value.array ?? []).map {
                        "\($0["code"]?.string ?? "")  \($0["isActive"] == .bool(true) ? "active" : "disabled")  uses \(Int($0["usesCount"]?.number ?? 0))\($0["maxUses"]?.number.map { "/\(Int($0))" } ?? "")  intent \($0["intentId"]?.string ?? "")"
                    }.joined(separator: "\n").ifEmpty("no links")
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a link.")
        @OptionGroup var options: ClientOptions
        @Argument var code: String
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.DELETE, "/api/v1/sharing/links/\(try ShareLinkCode(parsing: code))")
                options.output(response.data) { _ in "disabled \(code)" }
            }
        }
    }
}

/// `vivim permissions check`.
struct PermissionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "permissions", abstract: "Check permissions (SPEC §5.4).",
                                                    subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument(help: "A conversation id or a published content id.") var contentId: String
        @Option(help: "view, copy, annotate, remix, share or download.") var permission = "view"
        @Option(name: .customLong("user"), help: "Whose permission (default: you).") var userDid: String?
        func run() async throws {
            try await runClient {
                var path = "/api/v1/permissions/\(contentId)/check?permission=\(try Permission(parsing: permission, field: "permission").rawValue.lowercased())"
                if let userDid { path += "&userDid=\(try DID(parsing: userDid))" }
                let response = try await options.client().send(.GET, path)
                options.output(response.data) {
                    "\($0["allowed"] == .bool(true) ? "allowed" : "denied"): \($0["permission"]?.string ?? "")\($0["reason"]?.string.map { " (\($0))" } ?? "")"
                }
                if response.data["allowed"] != .bool(true) { throw ExitCode(2) }
            }
        }
    }
}

/// `vivim open <contentId>`: fetch, verify against the owner's DID, open with the local key,
/// decrypt, print (or write) the conversation.
struct Open: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open a shared bundle with your own key.")
    @OptionGroup var options: ClientOptions
    @Argument var contentId: String
    @Option(help: "Write the decrypted JSON here instead of printing the conversation.") var out: String?
    @Option(help: "The content key of a zero-knowledge link (the URL fragment).") var key: String?

    func run() async throws {
        try await runClient {
            let identity = try options.keyStore.load()
            let client = try (try? options.client()) ?? options.client(authenticated: false)
            let (bundle, response) = try await client.fetchContent(contentId)
            try BundleOpener.verify(bundle)
            let plaintext: [UInt8]
            if let key {
                plaintext = try BundleOpener.open(bundle, linkFragment: key)
            } else if let published = response.data["contentKey"]?.string {
                plaintext = try BundleOpener.open(bundle, contentKey: try ContentKey(base64URL: published))
            } else if bundle.keyCapsules.contains(where: { $0.recipientDid == identity.signing.did }) {
                plaintext = try BundleOpener.open(bundle, recipientDid: identity.signing.did, keyPair: identity.encryption)
            } else if let capsule = bundle.epochCapsules.first {
                let keys = try await client.send(.GET, "/api/v1/circles/\(capsule.circleId)/keys").data
                let capsules = try JSONDecoder().decode([EpochKeyCapsule].self, from: JSONEncoder().encode(keys))
                guard let mine = capsules.first(where: { $0.epoch == capsule.epoch }) else {
                    throw CLIError("you hold no key for epoch \(capsule.epoch) of circle \(capsule.circleId)")
                }
                plaintext = try BundleOpener.open(bundle, epochKey: try mine.open(keyPair: identity.encryption))
            } else {
                throw CLIError("this bundle is not sealed to you")
            }
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: Data(plaintext), attributes: [.posixPermissions: 0o600]) else {
                    throw CLIError("cannot write \(out)")
                }
            }
            let content = try JSONDecoder().decode(JSONValue.self, from: Data(plaintext))
            let signer = bundle.delegation == nil ? "its owner's key" : "a key its owner delegated"
            options.output(content) { value in
                var lines = ["\(value["title"]?.string ?? "Untitled") — from \(bundle.ownerDid), signature verified (\(signer))"]
                for message in value["messages"]?.array ?? [] {
                    let body = message["content"]?.string ?? (message["content"]?.array ?? []).compactMap { $0["text"]?.string ?? $0["content"]?.string }.joined(separator: "\n")
                    lines.append("\n[\(message["role"]?.string ?? "")\(message["author"]?.string.map { " \($0)" } ?? "")]\n\(body)")
                }
                if let watermark = value["watermark"]?["text"]?.string { lines.append("\n— \(watermark)") }
                return out.map { "wrote \($0)" } ?? lines.joined(separator: "\n")
            }
        }
    }
}
