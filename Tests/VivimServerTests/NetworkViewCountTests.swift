import Foundation
import Testing
import VivimClient
import VivimCore
import VivimCRDT
import VivimNetwork
import VivimServer

/// View counts merged across nodes (SPEC §8.4, §9): the server's node counts the views it
/// serves in the content's `views:<contentId>` G-Counter; another node that served the same
/// content counts its own; after `/vivim/sync/1.0.0` both hold the same total, and the content
/// API reports it.
@Suite struct NetworkViewCountTests {
    @Test func viewCountsMergeAcrossNodesThroughSync() async throws {
        try await Harness.with(.sqlite, configure: NetworkIntegration.nodeOn) { harness in
            let server = try #require(harness.server.app.services.network).node
            let alice = try await harness.newUser("alice"), bob = try await harness.newUser("bob")
            let conversationID = try await SharingAPI.importConversation(alice)
            let intentID = try await SharingAPI.create(alice, SharingAPI.intent(conversationID, audience: SharingAPI.users(bob.did)))
            let contentID = try #require(try await SharingAPI.publish(alice, intentID)["contentId"]?.string)

            // Bob reads it twice through the server: its node counts 2.
            _ = try await bob.client.fetchContent(contentID)
            let second = try await bob.client.fetchContent(contentID).response
            #expect(second.data["metadata"]?["networkViews"]?.number == 2)
            // The owner's own reads are not views.
            #expect(try await alice.client.fetchContent(contentID).response.data["metadata"]?["networkViews"]?.number == 2)

            try await NetworkIntegration.withNodes { nodes in
                // A storage peer that served the same content 3 times, counted on its own replica.
                let peer = try await nodes.start(bootstrap: await server.listenAddresses, type: .storage)
                let document = try await peer.node.openDocument(.views(contentID))
                let label = peer.node.peerID.description
                try await document.change(ViewCounter.self) { $0.recordViews(3, servedBy: label) }
                try await document.sync(with: server.peerID, addrs: await server.listenAddresses)

                let merged = try await document.read(ViewCounter.self)
                #expect(merged.total == 5)
                #expect(merged.servedByNode == [server.peerID.description: 2, label: 3])
                // The server's copy converges too (the peer's state arrives in the same exchange).
                try await NetworkIntegration.eventually("the server's counter to merge the peer's views") {
                    try await server.openDocument(.views(contentID)).read(ViewCounter.self).total == 5
                }
                // Re-syncing never counts a view twice.
                try await document.sync(with: server.peerID, addrs: await server.listenAddresses)
                #expect(try await document.read(ViewCounter.self).total == 5)
                let third = try await bob.client.fetchContent(contentID).response
                #expect(third.data["metadata"]?["networkViews"]?.number == 6)
            }
        }
    }
}
