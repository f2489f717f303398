import Foundation
import Testing
@testable import VivimNetwork

/// Issue 11 property tests: every numeric field a peer (or a damaged file) controls in the
/// content record, the revocation notice, the storage index and mDNS messages gets each of
/// ``extremeWireValues`` (truncated to the field's width), goes through the real decoder and
/// the Sans-IO core that consumes it, and must neither trap nor grow state without bound
/// (SPEC §8.1, wire tolerance).
@Suite struct ExtremeValueTests {
    static let owner = try! PeerKeyPair(seed: [UInt8](repeating: 21, count: 32))
    static let holder = try! PeerKeyPair(seed: [UInt8](repeating: 22, count: 32))
    static let address = try! Multiaddr("/ip4/10.0.0.3/tcp/4001")
    /// Clocks at both ends of the range, as a node might see after a long uptime or a bad clock.
    static let instants = [NetworkInstant.zero, NetworkInstant(nanoseconds: 1 << 62), .distantFuture]

    // MARK: content record (SPEC §8.2)

    /// The wire form of a content record with the chosen numeric fields written raw (so a value
    /// wider than the field, e.g. a 2^35 replication factor, reaches the decoder), unsigned.
    static func rawRecord(size: UInt64 = 1, createdAt: UInt64 = 1, expiresAt: UInt64 = 0, replication: UInt64 = 3,
                          status: UInt64? = nil, revokedAt: UInt64? = nil, signedAt: UInt64 = 1) -> [UInt8] {
        var m = ProtobufWriter()
        m.writeVarint(field: 1, size)
        m.writeVarint(field: 2, createdAt)
        m.writeVarint(field: 3, expiresAt)
        m.writeVarint(field: 4, replication)
        var w = ProtobufWriter()
        w.writeString(field: 1, "extreme")
        w.writeString(field: 2, "text/plain")
        w.writeBytes(field: 3, ContentHash(of: [7]).key)
        w.writeBytes(field: 4, m.bytes)
        w.writeBytes(field: 6, owner.peerID.bytes)
        if let status { w.writeVarint(field: 7, status) }
        if let revokedAt { w.writeVarint(field: 8, revokedAt) }
        var p = ProtobufWriter()
        p.writeBytes(field: 1, owner.peerID.bytes)
        p.writeVarint(field: 3, signedAt)
        p.writeBytes(field: 4, [UInt8](repeating: 0, count: 64))
        w.writeBytes(field: 5, p.bytes)
        return w.bytes
    }

    /// Every metadata and provider field at every extreme: the decoder keeps the value (the
    /// replication factor truncated to its 32 bits), and a signed record with it is valid, merges
    /// and is stored and served by a DHT node at every clock, which keeps one record.
    @Test func contentRecordFieldsAtExtremeValuesDecodeSignMergeAndStore() throws {
        for v in extremeWireValues {
            let variants: [(String, [UInt8])] = [
                ("size", Self.rawRecord(size: v)), ("createdAt", Self.rawRecord(createdAt: v)),
                ("expiresAt", Self.rawRecord(expiresAt: v)), ("replicationFactor", Self.rawRecord(replication: v)),
                ("signedAt", Self.rawRecord(signedAt: v)), ("revokedAt", Self.rawRecord(status: 1, revokedAt: v)),
            ]
            for (field, bytes) in variants {
                var record = try ContentRecord(decoding: bytes)
                switch field {
                case "size": #expect(record.metadata.size == v)
                case "createdAt": #expect(record.metadata.createdAt == v)
                case "expiresAt": #expect(record.metadata.expiresAt == (v == 0 ? nil : v))
                case "replicationFactor": #expect(record.metadata.replicationFactor == UInt32(truncatingIfNeeded: v))
                case "signedAt": #expect(record.providers.first?.signedAt == v)
                default: #expect(record.revokedAt == v && record.status == .revoked)
                }
                #expect(!record.isValid())  // the raw provider's signature is zeros
                record.providers = []
                try record.sign(as: Self.owner, addrs: [Self.address], at: field == "signedAt" ? v : 1)
                let signed = try ContentRecord(decoding: record.encoded)
                #expect(signed == record)
                #expect(signed.isValid())
                for now in extremeWireValues {
                    // Expired exactly when an expiry is set and not after `now`.
                    #expect(signed.isValid(unixNow: now) == (signed.metadata.expiresAt.map { $0 > now } ?? true))
                }
                #expect(signed.isRevocation(by: Self.owner.peerID) == (field == "revokedAt"))
                #expect(ContentRecord.merge(signed, signed) == signed)
                var node = KademliaNode(localPeer: Self.holder.peerID)
                for now in Self.instants {
                    let put = KadMessage(type: .putValue, key: signed.key, record: .init(key: signed.key, value: signed.encoded))
                    #expect(node.handleRequest(from: Self.owner.peerID, put, now: now) != nil)
                    let got = node.handleRequest(from: Self.owner.peerID, KadMessage(type: .getValue, key: signed.key), now: now)
                    // Stored until now + recordTTL, which saturates at the end of time (then it is already due).
                    if now != .distantFuture {
                        #expect(try got?.record.map { try ContentRecord(decoding: $0.value) } == signed)
                    }
                    var rng = TestRNG(seed: v)
                    _ = node.tick(now: now, rng: &rng)
                }
            }
        }
    }

    /// The status field: only 0 and 1 are known; any other value (2^64-1 included) is refused.
    @Test func contentRecordStatusOutsideTheEnumIsRefused() throws {
        for v in extremeWireValues {
            let bytes = Self.rawRecord(status: v)
            if v <= 1 {
                #expect(try ContentRecord(decoding: bytes).status.rawValue == v)
            } else {
                #expect(throws: WireError.self) { try ContentRecord(decoding: bytes) }
            }
        }
    }

    // MARK: revocation notice (gossip `content.revoked`)

    /// What `VivimNode` does with a revocation notice read from gossip (its private handler, step by step).
    static func parseNotice(_ data: [UInt8]) -> ContentRecord? {
        guard data.count <= VivimNode.maxNotice, data.starts(with: VivimNode.revocationPrefix),
              let notice = try? JSONDecoder().decode(VivimNode.RevocationNotice.self, from: Data(data)),
              notice.type == "content.revoked", let bytes = ContentStore.unhex(notice.record),
              let record = try? ContentRecord(decoding: bytes), record.contentID == notice.contentId else { return nil }
        return record
    }

    /// A revocation with `revoked_at`, `signed_at`, `created_at`, `expires_at` and `size` at
    /// each extreme, carried in a notice: it parses, verifies, and a holder's storage core
    /// deletes its copy and tombstones it at every clock, keeping one tombstone.
    @Test func revocationNoticesWithExtremeValuesDeleteTheCopy() throws {
        for v in extremeWireValues {
            var active = ContentRecord(contentID: "extreme", contentType: "text/plain", bundleHash: ContentHash(of: [9]),
                                       metadata: .init(size: v, createdAt: v, expiresAt: v == 0 ? nil : v,
                                                       replicationFactor: UInt32(truncatingIfNeeded: v)),
                                       owner: Self.owner.peerID)
            try active.sign(as: Self.owner, addrs: [], at: v)
            var revocation = active.revoked(at: v)
            try revocation.sign(as: Self.owner, addrs: [], at: v)
            let record = try #require(Self.parseNotice(VivimNode.revocationNotice(revocation)))
            #expect(record.isRevocation(by: Self.owner.peerID))
            #expect(record.revokedAt == v)
            #expect(ContentRecord.merge(active, record) == record)  // a revocation replaces the active record
            #expect(ContentRecord.merge(record, active) == record)
            for now in Self.instants {
                var storage = StorageManager(localPeer: Self.holder.peerID)
                _ = storage.stored(record.bundleHash, size: 1, origin: .fetched, owner: Self.owner.peerID, now: now)
                let actions = storage.revocationSeen(record.bundleHash, by: Self.owner.peerID, now: now)
                #expect(actions.contains(.deleteLocal(record.bundleHash)))
                #expect(storage.entries.isEmpty)
                #expect(storage.tombstones.count == 1)
                _ = storage.tick(now: now)
                _ = storage.tick(now: .distantFuture)
                #expect(storage.tombstones.count <= 1)
            }
        }
    }

    // MARK: storage index (disk input)

    /// One index file holding `item` (and `grave`, if given) as raw protobuf, checksummed as
    /// `StorageIndex` writes it.
    static func indexFile(item: [UInt8]?, grave: [UInt8]? = nil) -> [UInt8] {
        var out = StorageIndex.magic
        for (field, payload) in [(UInt64(1), item), (2, grave)] {
            guard let payload else { continue }
            var w = ProtobufWriter()
            w.writeBytes(field: field, payload)
            UVarint.encode(UInt64(w.bytes.count), into: &out)
            out += w.bytes + StorageIndex.checksum(w.bytes)
        }
        return out
    }

    static func rawItem(origin: UInt64 = 0, size: UInt64 = 1, replication: UInt64 = 3, expiresAt: UInt64? = nil,
                        lastAccess: UInt64 = 1, createdAt: UInt64 = 1) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, ContentHash(of: [5]).key)
        w.writeVarint(field: 2, origin)
        w.writeBytes(field: 3, owner.peerID.bytes)
        w.writeVarint(field: 4, size)
        w.writeVarint(field: 5, replication)
        w.writeVarint(field: 6, 1)
        if let expiresAt { w.writeVarint(field: 7, expiresAt) }
        w.writeVarint(field: 8, lastAccess)
        w.writeBytes(field: 9, holder.peerID.bytes)
        w.writeString(field: 11, "c")
        w.writeString(field: 12, "text/plain")
        w.writeVarint(field: 13, createdAt)
        return w.bytes
    }

    static func rawGrave(reason: UInt64 = 0, at: UInt64 = 1, attempts: UInt64 = 1) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, ContentHash(of: [6]).key)
        w.writeBytes(field: 2, owner.peerID.bytes)
        w.writeVarint(field: 3, reason)
        w.writeVarint(field: 4, at)
        var r = ProtobufWriter()
        r.writeBytes(field: 1, holder.peerID.bytes)
        r.writeVarint(field: 2, attempts)
        w.writeBytes(field: 5, r.bytes)
        return w.bytes
    }

    /// Each item and tombstone field at each extreme: the file decodes intact (or, for an enum
    /// out of range, is reported damaged), the decoded numbers are clamped to their documented
    /// caps, and a restart at either end of the wall and monotonic clocks restores, ticks and
    /// snapshots without trapping, holding at most the one item and one tombstone of the file.
    @Test func storageIndexFieldsAtExtremeValuesRestoreAndSnapshot() throws {
        for v in extremeWireValues {
            let files: [(String, [UInt8])] = [
                ("size", Self.indexFile(item: Self.rawItem(size: v))),
                ("replication", Self.indexFile(item: Self.rawItem(replication: v))),
                ("expiresAt", Self.indexFile(item: Self.rawItem(expiresAt: v))),
                ("lastAccess", Self.indexFile(item: Self.rawItem(lastAccess: v))),
                ("createdAt", Self.indexFile(item: Self.rawItem(createdAt: v))),
                ("origin", Self.indexFile(item: Self.rawItem(origin: v))),
                ("graveAt", Self.indexFile(item: nil, grave: Self.rawGrave(at: v))),
                ("attempts", Self.indexFile(item: nil, grave: Self.rawGrave(attempts: v))),
                ("reason", Self.indexFile(item: nil, grave: Self.rawGrave(reason: v))),
            ]
            for (field, file) in files {
                let decoded = StorageIndex.decode(file)
                let enumOutOfRange = (field == "origin" && v > 3) || (field == "reason" && v > 4)
                #expect(decoded.damaged == enumOutOfRange, "\(field) = \(v)")
                #expect(decoded.records == (enumOutOfRange ? 0 : 1))
                for item in decoded.index.items {
                    #expect(item.size >= 0 && item.size <= Int.max / 2)
                    #expect(item.replicationFactor >= 0 && item.replicationFactor <= 1024)
                }
                for grave in decoded.index.graves { #expect(grave.unacknowledged.values.allSatisfy { $0 >= 0 && $0 <= 1 << 20 }) }
                for now in Self.instants {
                    for unixNow in extremeWireValues {
                        var storage = StorageManager(localPeer: Self.holder.peerID)
                        // The shell passes the sizes of the verified files it found.
                        let found = Dictionary(decoded.index.items.map { ($0.hash, 1) }, uniquingKeysWith: { a, _ in a })
                        _ = storage.restore(decoded.index, files: found, now: now, unixNow: unixNow)
                        _ = storage.tick(now: now)
                        _ = storage.tick(now: .distantFuture)
                        #expect(storage.entries.count <= 1 && storage.tombstones.count <= 1)
                        let again = StorageIndex.decode(storage.snapshot(now: now, unixNow: unixNow).encoded)
                        #expect(!again.damaged)
                    }
                }
            }
        }
    }

    // MARK: DNS / mDNS (RFC 6762)

    /// A discovery core; `seed` picks its random instance name (two cores need two seeds).
    static func discovery(_ identity: PeerKeyPair, _ address: String, seed: UInt64 = 11) throws -> MDNSDiscovery {
        var rng = TestRNG(seed: seed)
        return MDNSDiscovery(localPeer: identity.peerID, listenAddresses: [try Multiaddr(address)], rng: &rng)
    }

    /// A response announcing `owner` with every TTL (PTR and TXT) at each extreme truncated to
    /// its 32 bits, received at each clock: a peer is learned only for a TTL above 0, its
    /// expiry is capped by `recordTTL`, and time advancing past that cap forgets it.
    @Test func mdnsRecordTTLsAtExtremeValuesExpireWithinTheConfiguredCap() throws {
        let remote = try Self.discovery(Self.owner, "/ip4/10.0.0.9/tcp/4001", seed: 12)
        for v in extremeWireValues {
            let ttl = UInt32(truncatingIfNeeded: v)
            let datagram = try #require(remote.response(ttl: ttl))
            let decoded = try DNSMessage(decoding: datagram)
            #expect(decoded.records.allSatisfy { $0.ttl == ttl })
            for now in Self.instants {
                var local = try Self.discovery(Self.holder, "/ip4/10.0.0.8/tcp/4001")
                let actions = local.receive(datagram, now: now)
                guard ttl > 0 else {
                    #expect(actions.isEmpty && local.peers.isEmpty)
                    continue
                }
                #expect(actions.contains { if case .discovered(Self.owner.peerID, _) = $0 { true } else { false } })
                let expires = try #require(local.peers[Self.owner.peerID]?.expires)
                #expect(expires <= now + local.configuration.recordTTL)
                // A later copy of the same record does not push the expiry past the cap either.
                _ = local.receive(datagram, now: now + .seconds(1))
                #expect(try #require(local.peers[Self.owner.peerID]?.expires) <= now + .seconds(1) + local.configuration.recordTTL)
                let later = now + local.configuration.recordTTL + .seconds(2)
                let expired = local.tick(now: later)
                #expect(expired.contains(.expired(Self.owner.peerID)))
                #expect(local.peers.isEmpty)
            }
        }
    }

    /// A query carrying our own PTR as a known answer with an extreme TTL (RFC 6762 §7.1): it
    /// suppresses the answer exactly when the TTL is at least half ours, without overflow.
    @Test func mdnsKnownAnswerTTLsAtExtremeValues() throws {
        for v in extremeWireValues {
            let ttl = UInt32(truncatingIfNeeded: v)
            var local = try Self.discovery(Self.holder, "/ip4/10.0.0.8/tcp/4001")
            let query = try DNSMessage(questions: [.init(name: MDNSDiscovery.serviceName, type: .ptr)],
                                       answers: [.init(name: MDNSDiscovery.serviceName, ttl: ttl, data: .ptr(local.instanceName))]).encoded()
            let answered = local.receive(query, now: NetworkInstant(nanoseconds: 1 << 40))
            let ours = UInt64(local.configuration.recordTTL.components.seconds)
            #expect(answered.isEmpty == (UInt64(ttl) * 2 >= ours))
        }
    }

    /// The four section counts of the DNS header at each extreme truncated to 16 bits, with no
    /// records behind them: only a count of 0 decodes; every other count throws.
    @Test func dnsHeaderCountsAtExtremeValues() {
        for v in extremeWireValues {
            let count = UInt16(truncatingIfNeeded: v)
            for section in 0..<4 {
                var header: [UInt8] = [0, 0, 0x84, 0]
                for s in 0..<4 { header += s == section ? [UInt8(count >> 8), UInt8(count & 0xFF)] : [0, 0] }
                if count == 0 {
                    #expect((try? DNSMessage(decoding: header)) != nil)
                } else {
                    #expect(throws: WireError.self) { try DNSMessage(decoding: header) }
                }
                var local = try! Self.discovery(Self.holder, "/ip4/10.0.0.8/tcp/4001")
                #expect(local.receive(header, now: .distantFuture).isEmpty)
            }
        }
    }

    /// A record's data length (16 bits) and an SRV port, priority and weight at each extreme:
    /// a length past the message end throws; SRV values round-trip.
    @Test func dnsRecordLengthsAndSRVFieldsAtExtremeValues() throws {
        for v in extremeWireValues {
            let short = UInt16(truncatingIfNeeded: v)
            let srv = try DNSMessage(flags: DNSMessage.responseFlags, answers: [
                .init(name: DNSName("a._p2p._udp.local"), ttl: UInt32(truncatingIfNeeded: v),
                      data: .srv(priority: short, weight: short, port: short, target: DNSName("h.local"))),
            ]).encoded()
            let decoded = try DNSMessage(decoding: srv)
            #expect(decoded.answers.first?.data == .srv(priority: short, weight: short, port: short, target: DNSName("h.local")))
            // Overwrite the record's data length (after the 12-byte header, the owner name, type,
            // class and TTL) with the extreme.
            var forged = srv
            let lengthOffset = 12 + DNSName("a._p2p._udp.local").wireLength + 8
            let original = UInt16(srv[lengthOffset]) << 8 | UInt16(srv[lengthOffset + 1])
            #expect(Int(original) == srv.count - lengthOffset - 2)
            forged[lengthOffset] = UInt8(short >> 8)
            forged[lengthOffset + 1] = UInt8(short & 0xFF)
            if short != original {
                #expect(throws: WireError.self) { try DNSMessage(decoding: forged) }
            }
        }
    }

    // MARK: task scheduler near the end of the clock (audit fix)

    /// A periodic task run near the end of the clock's range: the next grid point used to be
    /// computed with wrapping arithmetic and landed near zero, so the task was due again at
    /// once, forever. It now saturates at `.distantFuture`.
    @Test func periodicTasksNearTheEndOfTheClockAreNotDueAgainAtOnce() {
        for v in extremeWireValues where v >= 1 << 35 {
            var scheduler = TaskScheduler()
            let now = NetworkInstant(nanoseconds: v - 30_000_000_000)  // 30 s before `v`
            let id = scheduler.add(.healthCheck, schedule: .every(.seconds(3600), initialDelay: .zero), now: now)
            #expect(scheduler.due(now: now) == [id])
            scheduler.completed(id, now: now, outcome: .success)
            let next = scheduler.tasks[id]?.nextDue
            #expect(next.map { $0 > now } ?? false, "next due \(String(describing: next)) after running at \(now)")
            #expect(scheduler.due(now: now).isEmpty)
        }
    }
}
