import Logging

/// Peer discovery on the local network (SPEC §8.6: "Discovery by bootstrap list, mDNS on
/// the local network, and the DHT"): when ``VivimNode/Configuration/mdns`` is set, an
/// ``MDNSService`` announces the node's listen addresses and every peer it finds is added
/// to the DHT's routing table and the connection manager, then dialled.
extension VivimNode {
    /// Starts mDNS discovery if configured (called by ``start()`` once listening). A socket
    /// error is logged, not thrown: the node runs on without local discovery.
    public func startDiscovery() async {
        guard let settings = configuration.mdns, mdnsService == nil else { return }
        let logger = Logger(label: "vivim.mdns")
        let service = MDNSService(localPeer: peerID, listenAddresses: host.listenAddresses,
                                  configuration: settings, clock: host.configuration.clock,
                                  random: host.configuration.random, logger: logger)
        do {
            try await service.start()
        } catch {
            logger.warning("mDNS discovery not started", metadata: ["error": "\(error)"])
            return
        }
        mdnsService = service
        let events = service.events
        Task { [weak self] in
            for await event in events {
                guard case .discovered(let peer, let addrs) = event else { continue }
                await self?.discoveredLocally(peer, addrs: addrs)
            }
        }
    }

    /// Stops mDNS discovery (our records are withdrawn with a goodbye).
    public func stopDiscovery() async {
        guard let service = mdnsService else { return }
        mdnsService = nil
        await service.stop()
    }

    /// Peers currently known from mDNS (empty when discovery is off).
    public var locallyDiscoveredPeers: [PeerID] {
        get async {
            guard let service = mdnsService else { return [] }
            return Array(await service.discoveredPeers.keys)
        }
    }

    private func discoveredLocally(_ peer: PeerID, addrs: [Multiaddr]) async {
        guard peer != peerID, mdnsService != nil else { return }
        let alone = await dht.routingTableSize == 0
        await dht.addPeer(peer, addrs: addrs)
        await connections.addPeer(peer, addrs: addrs, bootstrap: false)
        guard host.connections(to: peer).isEmpty, await connections.canConnectMore else { return }
        // Both sides usually discover each other at once: the smaller peer id dials first and
        // the other only if still unconnected a moment later, to avoid two connections.
        let delay: Duration = peerID.bytes.lexicographicallyPrecedes(peer.bytes) ? .zero : .seconds(2)
        let host = self.host, dht = self.dht, me = peerID
        Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            guard host.connections(to: peer).isEmpty else { return }
            for address in addrs {
                if (try? await host.dial(address)) != nil { break }
            }
            // A node that knew nobody joins the DHT through its first local peer.
            if alone { _ = try? await dht.findNode(me.bytes) }
        }
    }
}
