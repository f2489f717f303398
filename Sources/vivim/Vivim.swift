import ArgumentParser
import Foundation

@main
struct Vivim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vivim",
        abstract: "VIVIM Share: share AI conversations on purpose, end-to-end encrypted, peer to peer.",
        subcommands: [Serve.self, IdentityCommand.self, Register.self, Login.self, CircleCommand.self,
                      ConversationCommand.self, ShareCommand.self, LinksCommand.self, PermissionsCommand.self, Open.self,
                      NodeCommand.self, Bench.self])
}

/// `VIVIM_<NAME>` environment defaults for flags (SPEC §13).
func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment["VIVIM_" + name]
}
