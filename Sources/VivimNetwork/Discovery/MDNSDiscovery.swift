/// libp2p mDNS peer discovery (libp2p specs, discovery/mdns.md; Multicast DNS, RFC 6762)
/// as a Sans-IO state machine: fed datagrams and the time, it returns datagrams to
/// multicast and the peers it discovered or forgot. ``MDNSService`` is its UDP shell.
///
/// - Query: `_p2p._udp.local PTR`, at start and then at growing intervals up to
///   ``Configuration/queryInterval``.
/// - Response (to any query for the service, at most once per
///   ``Configuration/minResponseInterval``): the answer `_p2p._udp.local PTR
///   <peer-name>._p2p._udp.local` (peer-name random, not the peer id) and one
///   additional `TXT "dnsaddr=<multiaddr>/p2p/<peer id>"` record per listen address.
/// - Discovery: every `dnsaddr` of a PTR target must parse as
///   `/ip4|ip6|dns…/<host>/tcp/<port>/p2p/<id>`, all with the same peer id; a group
///   that disagrees is dropped whole. Own id is ignored. Peers are capped
///   (``Configuration/maxPeers``), reports rate-limited, and forgotten when their
///   records' TTL runs out unless heard again (a TTL of 0 is a goodbye).
public struct MDNSDiscovery: Sendable {
    /// The DNS-SD service name of libp2p peers.
    public static let serviceName = DNSName("_p2p._udp.local")
    /// The TXT attribute carrying one multiaddr.
    public static let dnsaddrPrefix = Array("dnsaddr=".utf8)

    public struct Configuration: Sendable {
        /// Steady-state interval between queries.
        public var queryInterval: Duration = .seconds(60)
        /// Delay before the second query; doubles up to ``queryInterval`` (RFC 6762 §5.2).
        public var initialQueryDelay: Duration = .seconds(1)
        /// TTL of our records, and the longest a discovered peer is kept without being heard again.
        public var recordTTL: Duration = .seconds(120)
        /// Responses are multicast at most this often (RFC 6762 §6); queries in between are
        /// answered once the interval has passed.
        public var minResponseInterval: Duration = .seconds(1)
        /// Discovered peers tracked at once; newcomers beyond it are ignored.
        public var maxPeers = 64
        /// Addresses kept per discovered peer.
        public var maxAddressesPerPeer = 8
        /// Own listen addresses put in a response.
        public var maxAnnouncedAddresses = 16
        /// Reports (a new peer, or new addresses of a known one) per ``reportWindow``; a peer
        /// over the limit is not recorded and will be reported from a later response.
        public var maxReportsPerWindow = 16
        public var reportWindow: Duration = .seconds(1)
        public init() {}
    }

    public enum Action: Sendable, Equatable {
        /// Multicast this datagram to the mDNS group.
        case send([UInt8])
        /// A peer on the local network and its TCP addresses (each ending in `/p2p/<peer>`).
        case discovered(PeerID, [Multiaddr])
        /// A discovered peer's records expired or it said goodbye.
        case expired(PeerID)
    }

    public struct DiscoveredPeer: Sendable, Equatable {
        public var addrs: [Multiaddr]
        public var expires: NetworkInstant
    }

    public let localPeer: PeerID
    /// Our instance label: `<peerName>._p2p._udp.local`.
    public let peerName: String
    public let configuration: Configuration
    /// Addresses announced (valid TCP addresses, each ending in `/p2p/<local peer>`).
    public private(set) var listenAddresses: [Multiaddr] = []
    public private(set) var peers: [PeerID: DiscoveredPeer] = [:]
    /// Records groups rejected as invalid (bad multiaddr, mixed peer ids, not TCP).
    public private(set) var rejectedRecords = 0
    /// Peers not recorded because of ``Configuration/maxPeers`` or the report rate limit.
    public private(set) var droppedPeers = 0
    private var nextQuery: NetworkInstant?
    private var queryDelay: Duration
    private var lastResponse: NetworkInstant?
    private var responseDue: NetworkInstant?
    private var windowStart: NetworkInstant = .zero
    private var reportsInWindow = 0

    public init(localPeer: PeerID, listenAddresses: [Multiaddr], configuration: Configuration = .init(),
                rng: inout some RandomNumberGenerator) {
        self.localPeer = localPeer
        self.configuration = configuration
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        peerName = String((0..<32).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        queryDelay = configuration.initialQueryDelay
        setListenAddresses(listenAddresses)
    }

    /// Our own service instance name.
    public var instanceName: DNSName { Self.serviceName.prepending(peerName) }

    /// Replaces the announced addresses: TCP addresses with a concrete host, `/p2p/<local
    /// peer>` appended where missing; others (and any beyond the cap) are left out.
    public mutating func setListenAddresses(_ addresses: [Multiaddr]) {
        var out: [Multiaddr] = []
        for a in addresses {
            let full = a.peerID == nil ? a.appending(.p2p(localPeer)) : a
            guard Self.dialableTCP(full), full.peerID == localPeer, !out.contains(full),
                  Self.dnsaddrPrefix.count + full.description.utf8.count <= 255 else { continue }
            out.append(full)
            if out.count == configuration.maxAnnouncedAddresses { break }
        }
        listenAddresses = out
    }

    /// Starts: a query, and an unsolicited response announcing us (RFC 6762 §8.3).
    public mutating func start(now: NetworkInstant) -> [Action] {
        windowStart = now
        queryDelay = configuration.initialQueryDelay
        nextQuery = now + queryDelay
        var actions: [Action] = [.send(query())]
        if let r = response(ttl: recordTTLSeconds) {
            actions.append(.send(r))
            lastResponse = now
        }
        return actions
    }

    /// When ``tick(now:)`` has something to do next (a query, a delayed response, an expiry).
    public var nextDeadline: NetworkInstant? {
        ([nextQuery, responseDue] + peers.values.map { Optional($0.expires) }).compactMap { $0 }.min()
    }

    /// Sends due queries and delayed responses, and forgets expired peers.
    public mutating func tick(now: NetworkInstant) -> [Action] {
        var actions: [Action] = []
        if let due = nextQuery, due <= now {
            actions.append(.send(query()))
            queryDelay = min(queryDelay * 2, configuration.queryInterval)
            nextQuery = now + queryDelay
        }
        if let due = responseDue, due <= now {
            responseDue = nil
            if let r = response(ttl: recordTTLSeconds) {
                actions.append(.send(r))
                lastResponse = now
            }
        }
        for (peer, p) in peers where p.expires <= now {
            peers[peer] = nil
            actions.append(.expired(peer))
        }
        return actions
    }

    /// A datagram received from the group: a query to answer or a response to learn from.
    /// Anything malformed is dropped.
    public mutating func receive(_ datagram: [UInt8], now: NetworkInstant) -> [Action] {
        guard let message = try? DNSMessage(decoding: datagram), message.opcode == 0, message.responseCode == 0 else { return [] }
        return message.isResponse ? learn(from: message, now: now) : answer(message, now: now)
    }

    /// A response withdrawing our records (TTL 0), to send when stopping (RFC 6762 §10.1).
    public func goodbye() -> [UInt8]? { response(ttl: 0) }

    // MARK: messages

    /// `_p2p._udp.local PTR?`
    public func query() -> [UInt8] {
        let message = DNSMessage(questions: [.init(name: Self.serviceName, type: .ptr)])
        return (try? message.encoded()) ?? []
    }

    /// Our PTR answer plus one TXT record per announced address (nil when there is none).
    public func response(ttl: UInt32) -> [UInt8]? {
        guard !listenAddresses.isEmpty else { return nil }
        let instance = instanceName
        let txt = listenAddresses.map {
            DNSMessage.ResourceRecord(name: instance, ttl: ttl, data: .txt([Self.dnsaddrPrefix + Array($0.description.utf8)]))
        }
        let message = DNSMessage(flags: DNSMessage.responseFlags,
                                 answers: [.init(name: Self.serviceName, ttl: ttl, data: .ptr(instance))],
                                 additionals: txt)
        return try? message.encoded()
    }

    private var recordTTLSeconds: UInt32 { UInt32(clamping: max(1, configuration.recordTTL.components.seconds)) }

    // MARK: queries

    private mutating func answer(_ query: DNSMessage, now: NetworkInstant) -> [Action] {
        let asked = query.questions.contains {
            $0.name == Self.serviceName && ($0.type == .ptr || $0.type == .any) && ($0.recordClass == DNSMessage.classIN || $0.recordClass == 255)
        }
        guard asked, !listenAddresses.isEmpty else { return [] }
        // Known-answer suppression (RFC 6762 §7.1): the asker already holds our PTR with at least half its TTL.
        let instance = instanceName
        let known = query.answers.contains {
            $0.name == Self.serviceName && $0.data == .ptr(instance) && UInt64($0.ttl) * 2 >= UInt64(recordTTLSeconds)
        }
        guard !known else { return [] }
        if let last = lastResponse, now - last < configuration.minResponseInterval {
            if responseDue == nil { responseDue = last + configuration.minResponseInterval }
            return []
        }
        guard let r = response(ttl: recordTTLSeconds) else { return [] }
        lastResponse = now
        responseDue = nil
        return [.send(r)]
    }

    // MARK: responses

    private mutating func learn(from response: DNSMessage, now: NetworkInstant) -> [Action] {
        let records = response.records
        var instances: [DNSName: UInt32] = [:]  // PTR target → its TTL
        for r in records where r.name == Self.serviceName {
            if case .ptr(let target) = r.data { instances[target] = min(instances[target] ?? .max, r.ttl) }
        }
        var actions: [Action] = []
        for (instance, ptrTTL) in instances {
            guard instance != instanceName else { continue }
            var strings: [[UInt8]] = []
            var ttl = ptrTTL
            for r in records where r.name == instance {
                if case .txt(let s) = r.data {
                    strings += s
                    ttl = min(ttl, r.ttl)
                }
            }
            let dnsaddrs = strings.filter { Self.hasDNSAddrPrefix($0) }
            guard !dnsaddrs.isEmpty else { continue }
            guard let (peer, addrs) = validatedGroup(dnsaddrs) else {
                rejectedRecords += 1
                continue
            }
            guard peer != localPeer else { continue }
            if ttl == 0 {
                if peers.removeValue(forKey: peer) != nil { actions.append(.expired(peer)) }
                continue
            }
            let expires = now + min(.seconds(Int64(ttl)), configuration.recordTTL)
            if var known = peers[peer] {
                known.expires = max(known.expires, expires)
                let fresh = addrs.filter { !known.addrs.contains($0) }
                if !fresh.isEmpty && allowReport(now: now) {
                    known.addrs = Array((known.addrs + fresh).suffix(configuration.maxAddressesPerPeer))
                    actions.append(.discovered(peer, known.addrs))
                }
                peers[peer] = known
            } else if peers.count < configuration.maxPeers && allowReport(now: now) {
                peers[peer] = DiscoveredPeer(addrs: addrs, expires: expires)
                actions.append(.discovered(peer, addrs))
            } else {
                droppedPeers += 1
            }
        }
        return actions
    }

    /// The peer id shared by every `dnsaddr` and the valid TCP addresses (at most
    /// ``Configuration/maxAddressesPerPeer``), or nil if any fails to parse, is not a
    /// dialable TCP address, or names another peer.
    private func validatedGroup(_ dnsaddrs: [[UInt8]]) -> (PeerID, [Multiaddr])? {
        var peer: PeerID?
        var addrs: [Multiaddr] = []
        for s in dnsaddrs {
            guard let text = String(validating: s.dropFirst(Self.dnsaddrPrefix.count), as: UTF8.self),
                  let address = try? Multiaddr(text), Self.dialableTCP(address), let id = address.peerID else { return nil }
            if let peer, peer != id { return nil }
            peer = id
            if !addrs.contains(address) && addrs.count < configuration.maxAddressesPerPeer { addrs.append(address) }
        }
        guard let peer else { return nil }
        return (peer, addrs)
    }

    private mutating func allowReport(now: NetworkInstant) -> Bool {
        if now - windowStart >= configuration.reportWindow {
            windowStart = now
            reportsInWindow = 0
        }
        guard reportsInWindow < configuration.maxReportsPerWindow else { return false }
        reportsInWindow += 1
        return true
    }

    private static func hasDNSAddrPrefix(_ s: [UInt8]) -> Bool {
        // TXT keys are case-insensitive (RFC 6763 §6.4).
        s.count > dnsaddrPrefix.count && zip(s, dnsaddrPrefix).allSatisfy { ($0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0) == $1 }
    }

    /// Exactly `/<ip4|ip6|dns|dns4|dns6>/<host>/tcp/<port ≠ 0>/p2p/<id>`, the host not unspecified.
    static func dialableTCP(_ address: Multiaddr) -> Bool {
        let c = address.components
        guard c.count == 3, case .tcp(let port) = c[1], port != 0, case .p2p = c[2] else { return false }
        switch c[0] {
        case .ip4(let b): return b != [0, 0, 0, 0] && !(224...239).contains(b[0])
        case .ip6(let b): return b != [UInt8](repeating: 0, count: 16) && b[0] != 0xFF
        case .dns, .dns4, .dns6: return true
        case .tcp, .p2p: return false
        }
    }
}
