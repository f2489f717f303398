import ArgumentParser
import Foundation
import NIOHTTP1
import VivimClient
import VivimCore
import VivimCrypto

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(help: "Server URL (VIVIM_SERVER).") var server = environment("SERVER") ?? "http://127.0.0.1:8080"
    @Option(help: "Where keys and the session live (VIVIM_HOME).") var home = environment("HOME_DIR") ?? "~/.vivim"
    @Flag(help: "Print JSON for scripts.") var json = false

    var keyStore: KeyStore { KeyStore(home: home) }

    func client(authenticated: Bool = true) throws -> VivimAPIClient {
        guard authenticated else { return VivimAPIClient(baseURL: server) }
        guard let token = keyStore.token(for: server) else {
            throw CLIError("not logged in to \(server); run `vivim login`")
        }
        return VivimAPIClient(baseURL: server, token: token)
    }

    /// Prints `--json` output or a human summary.
    func output(_ value: JSONValue, human: (JSONValue) -> String) {
        print(json ? value.pretty() : human(value))
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a client call and turns a server error into a clear message and a non-zero exit.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as APIError {
        FileHandle.standardError.write(Data("error: \(error.code): \(error.message)\(error.field.map { " [\($0)]" } ?? "")\n".utf8))
        throw ExitCode(1)
    } catch let error as VivimError {
        FileHandle.standardError.write(Data("error: \(error.code.rawValue): \(error.message)\n".utf8))
        throw ExitCode(1)
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

struct IdentityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "identity", abstract: "Create or show your local identity.",
                                                    subcommands: [Create.self, Show.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate an Ed25519 DID and an encryption key pair.")
        @OptionGroup var options: ClientOptions
        @Option(help: "X-Wing (default) or ML-KEM-1024.") var alg = "X-Wing"
        @Option(name: .customLong("device-id"), help: "This device's id.") var deviceID = "cli-\(ProcessInfo.processInfo.hostName.prefix(40))"
        @Flag(help: "Replace an existing identity.") var force = false

        func run() async throws {
            try await runClient {
                guard let algorithm = EncryptionKeyAlgorithm(rawValue: alg) else { throw CLIError("--alg must be X-Wing or ML-KEM-1024") }
                let safeDevice = String(deviceID.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "-" })
                let identity = try options.keyStore.create(algorithm: algorithm, deviceID: try DeviceID(parsing: safeDevice), replace: force)
                options.output(.object(["did": .string(identity.signing.did.description), "deviceId": .string(identity.deviceID.rawValue),
                                        "encryptionAlg": .string(algorithm.rawValue)])) {
                    "created \($0["did"]?.string ?? "") (device \($0["deviceId"]?.string ?? ""), \(algorithm.rawValue)) in \(options.keyStore.home)"
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print your DID and device.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let identity = try options.keyStore.load()
                options.output(.object(["did": .string(identity.signing.did.description), "didKey": .string(identity.signing.did.didKey),
                                        "deviceId": .string(identity.deviceID.rawValue),
                                        "encryptionAlg": .string(identity.encryption.publicKey.algorithm.rawValue)])) {
                    "\($0["did"]?.string ?? "")\ndevice \($0["deviceId"]?.string ?? "")"
                }
            }
        }
    }
}

struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register your identity with a server.")
    @OptionGroup var options: ClientOptions
    @Option(name: .customLong("display-name")) var displayName: String?

    func run() async throws {
        try await runClient {
            let identity = try options.keyStore.load()
            let response = try await options.client(authenticated: false).register(
                identity: identity.signing, encryptionKey: identity.encryption.publicKey, deviceID: identity.deviceID, displayName: displayName)
            options.output(response.data) { "registered \($0["did"]?.string ?? "") on \(options.server)" }
        }
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Log in with challenge/response; stores the session token.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let identity = try options.keyStore.load()
            let (client, token, expiresAt) = try await options.client(authenticated: false).login(identity: identity.signing, deviceID: identity.deviceID)
            try options.keyStore.saveSession(server: options.server, token: token, expiresAt: expiresAt)
            // Let the server sign bundles in this identity's name for a year (docs/decisions/0004).
            try await client.delegatePublishing(identity: identity.signing)
            options.output(.object(["did": .string(identity.signing.did.description), "expiresAt": .string(expiresAt)])) {
                "logged in as \($0["did"]?.string ?? "") until \($0["expiresAt"]?.string ?? "")"
            }
        }
    }
}

struct CircleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circle", abstract: "Manage circles.",
        subcommands: [Create.self, List.self, Show.self, Rename.self, Delete.self, Members.self, AddMember.self,
                      RemoveMember.self, SetRole.self, Leave.self])

    static func line(_ circle: JSONValue) -> String {
        let privacy = circle["isPrivate"] == .bool(true) ? "private" : "public"
        return "\(circle["id"]?.string ?? "")  \(circle["name"]?.string ?? "")  [\(circle["myRole"]?.string ?? "-"), \(Int(circle["memberCount"]?.number ?? 0)) members, \(privacy)]"
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option var description: String?
        @Flag(help: "Visible to everyone (circles are private by default).") var `public` = false
        func run() async throws {
            try await runClient {
                var body: [String: JSONValue] = ["name": .string(name), "isPrivate": .bool(!`public`)]
                if let description { body["description"] = .string(description) }
                let response = try await options.client().send(.POST, "/api/v1/circles", json: .object(body))
                options.output(response.data, human: CircleCommand.line)
            }
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: "owned, member or all.") var relation = "all"
        @Option var page = 1
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.GET, "/api/v1/circles?relation=\(relation)&page=\(page)&pageSize=100")
                options.output(response.data) { ($0.array ?? []).map(CircleCommand.line).joined(separator: "\n") }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await runClient {
                options.output(try await options.client().send(.GET, "/api/v1/circles/\(id)").data, human: CircleCommand.line)
            }
        }
    }

    struct Rename: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Argument var name: String
        func run() async throws {
            try await runClient {
                options.output(try await options.client().send(.PATCH, "/api/v1/circles/\(id)", json: .object(["name": .string(name)])).data,
                               human: CircleCommand.line)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await runClient {
                options.output(try await options.client().send(.DELETE, "/api/v1/circles/\(id)").data) { _ in "deleted \(id)" }
            }
        }
    }

    struct Members: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.GET, "/api/v1/circles/\(id)/members?pageSize=100")
                options.output(response.data) {
                    ($0.array ?? []).map { "\($0["did"]?.string ?? "")  \($0["role"]?.string ?? "")" }.joined(separator: "\n")
                }
            }
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Argument var did: String
        @Option var role = "member"
        @Flag(name: .customLong("can-invite")) var canInvite = false
        @Flag(name: .customLong("no-share")) var noShare = false
        func run() async throws {
            try await runClient {
                let body: JSONValue = .object(["did": .string(did), "role": .string(role), "canInvite": .bool(canInvite), "canShare": .bool(!noShare)])
                options.output(try await options.client().send(.POST, "/api/v1/circles/\(id)/members", json: body).data) { _ in "added \(did) as \(role)" }
            }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Argument var did: String
        func run() async throws {
            try await runClient {
                options.output(try await options.client().send(.DELETE, "/api/v1/circles/\(id)/members/\(did)").data) { _ in "removed \(did)" }
            }
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-role")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Argument var did: String
        @Argument var role: String
        func run() async throws {
            try await runClient {
                options.output(try await options.client().send(.PATCH, "/api/v1/circles/\(id)/members/\(did)",
                                                               json: .object(["role": .string(role)])).data) { _ in "\(did) is now \(role)" }
            }
        }
    }

    struct Leave: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await runClient {
                let me = try options.keyStore.load().signing.did.description
                options.output(try await options.client().send(.DELETE, "/api/v1/circles/\(id)/members/\(me)").data) { _ in "left \(id)" }
            }
        }
    }
}

struct ConversationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conversation", abstract: "Import and read your conversations.",
                                                    subcommands: [Import.self, List.self, Show.self, Search.self])

    struct Import: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument(help: "A conversation JSON file (SPEC §2.2 export shape), or - for standard input.") var file: String
        func run() async throws {
            try await runClient {
                let data: Data
                if file == "-" {
                    data = FileHandle.standardInput.readDataToEndOfFile()
                } else {
                    guard let contents = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
                    data = contents
                }
                let response = try await options.client().send(.POST, "/api/v1/conversations", body: data)
                options.output(response.data) {
                    "imported \($0["id"]?.string ?? "") (\(Int($0["counts"]?["messageCount"]?.number ?? 0)) messages, \(Int($0["acuCount"]?.number ?? 0)) ACUs)"
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var page = 1
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.GET, "/api/v1/conversations?page=\(page)&pageSize=50")
                options.output(response.data) {
                    ($0.array ?? []).map { "\($0["id"]?.string ?? "")  \($0["title"]?.string ?? "")  (\($0["provider"]?.string ?? ""), \(Int($0["counts"]?["messageCount"]?.number ?? 0)) messages)" }
                        .joined(separator: "\n")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await runClient {
                let response = try await options.client().send(.GET, "/api/v1/conversations/\(id)")
                options.output(response.data) { data in
                    var lines = ["# \(data["conversation"]?["title"]?.string ?? "")  [\(data["conversation"]?["privacyLevel"]?.string ?? "")]"]
                    for message in data["messages"]?.array ?? [] {
                        let text = (message["content"]?.array ?? []).compactMap { $0["text"]?.string ?? $0["content"]?.string }.joined(separator: "\n")
                        lines.append("\n[\(message["role"]?.string ?? "")]\n\(text)")
                    }
                    return lines.joined(separator: "\n")
                }
            }
        }
    }

    struct Search: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var query: String
        func run() async throws {
            try await runClient {
                let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
                let response = try await options.client().send(.GET, "/api/v1/search?q=\(encoded)")
                options.output(response.data) {
                    ($0.array ?? []).map { "\($0["conversationId"]?.string ?? "") #\(Int($0["messageIndex"]?.number ?? 0))  \($0["snippet"]?.string ?? "")" }
                        .joined(separator: "\n")
                }
            }
        }
    }
}
