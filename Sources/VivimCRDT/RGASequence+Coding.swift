extension RGASequence {
    /// Upper bound on the elements (tombstones included) one decoded state may
    /// hold, so forged run lengths cannot exhaust memory.
    public static var maxDecodedElements: Int { 1 << 24 }

    /// Items in document order, grouped into maximal runs: the canonical
    /// form, independent of how edits happened to split items here. A run
    /// may span items whose content is not contiguous in `content`.
    func canonicalRuns() -> (items: [Item], runs: [(head: Item, length: Int, items: Range<Int>)]) {
        var all: [Item] = []
        var runs: [(head: Item, length: Int, items: Range<Int>)] = []
        forEachItem { item in
            all.append(item)
            if let last = runs.last {
                let tail = all[all.count - 2]
                if tail.replica == item.replica, tail.isDeleted == item.isDeleted, item.counter == tail.counterEnd,
                   item.lamport == tail.lamport + UInt64(tail.length), item.originReplica == tail.replica,
                   item.originCounter == tail.counterEnd - 1 {
                    runs[runs.count - 1] = (last.head, last.length + Int(item.length), last.items.lowerBound..<all.count)
                    return
                }
            }
            runs.append((item, Int(item.length), all.count - 1..<all.count))
        }
        return (all, runs)
    }

    /// Layout: sorted replica table; runs in document order (replica, counter,
    /// lamport, length, origin, deleted flag, content of live runs); pending deletions.
    public func encode(to writer: inout BinaryWriter) {
        let (all, runs) = canonicalRuns()
        var used = Set<Int32>()
        for (run, _, _) in runs {
            used.insert(run.replica)
            if run.originReplica >= 0 { used.insert(run.originReplica) }
        }
        let table = used.sorted { replicaIDs[Int($0)] < replicaIDs[Int($1)] }
        var remap = [Int32](repeating: -1, count: replicaIDs.count)
        for (index, local) in table.enumerated() { remap[Int(local)] = Int32(index) }
        writer.write(count: table.count)
        for local in table { writer.write(replicaIDs[Int(local)]) }
        writer.write(count: runs.count)
        for (run, length, pieces) in runs {
            writer.write(varint: UInt64(remap[Int(run.replica)]))
            writer.write(varint: run.counter)
            // Timestamps and origins sit close to the run's counter: store differences.
            writer.write(signed: Int64(bitPattern: run.lamport &- run.counter))
            writer.write(varint: UInt64(length))
            if run.originReplica < 0 {
                writer.write(byte: 0)
            } else {
                writer.write(varint: UInt64(remap[Int(run.originReplica)]) + 1)
                writer.write(signed: Int64(bitPattern: run.originCounter &- run.counter))
            }
            writer.write(byte: run.isDeleted ? 1 : 0)
            if !run.isDeleted {
                for piece in all[pieces] {
                    for element in content[Int(piece.contentStart)..<Int(piece.contentStart) + Int(piece.length)] {
                        element.encode(to: &writer)
                    }
                }
            }
        }
        writer.write(pendingDeletes)
    }

    public init(from reader: inout BinaryReader) throws {
        self.init()
        let tableCount = try reader.readCount()
        var table: [Int32] = []
        var previous: ReplicaID?
        for _ in 0..<tableCount {
            let replica: ReplicaID = try reader.read()
            guard previous.map({ $0 < replica }) ?? true else { throw CRDTDecodingError.malformed("sequence replicas unsorted") }
            previous = replica
            table.append(replicaIndex(for: replica))
        }
        let limit: UInt64 = 1 << 62
        var budget = Self.maxDecodedElements
        let runCount = try reader.readCount(minimumElementSize: 6)
        for _ in 0..<runCount {
            let r = table[try reader.readInt(max: tableCount - 1)]
            let counter = try reader.readVarint()
            let lamport = counter &+ UInt64(bitPattern: try reader.readSigned())
            let length = try reader.readInt(max: budget)
            guard length > 0, counter < limit - UInt64(length), lamport > 0, lamport < limit - UInt64(length) else {
                throw CRDTDecodingError.malformed("sequence run bounds")
            }
            budget -= length
            let originTag = try reader.readInt(max: tableCount)
            let originReplica: Int32 = originTag == 0 ? -1 : table[originTag - 1]
            let originCounter: UInt64 = originTag == 0 ? 0 : counter &+ UInt64(bitPattern: try reader.readSigned())
            guard originCounter < limit else { throw CRDTDecodingError.malformed("sequence origin bounds") }
            let deletedFlag = try reader.readByte()
            guard deletedFlag <= 1 else { throw CRDTDecodingError.malformed("sequence run flag") }
            let counters = counter..<counter + UInt64(length)
            guard owners[Int(r)].firstPresent(in: counters) == nil else { throw CRDTDecodingError.malformed("sequence ids repeated") }
            var contentStart: Int32 = -1
            if deletedFlag == 0 {
                guard length <= reader.remaining else { throw CRDTDecodingError.truncated }
                contentStart = Int32(content.count)
                content.reserveCapacity(content.count + length)
                for _ in 0..<length { content.append(try reader.read(Element.self)) }
            }
            appendRun(Run(replica: r, counter: counter, lamport: lamport, length: length, originReplica: originReplica,
                          originCounter: originCounter, isDeleted: deletedFlag == 1, contentStart: contentStart))
        }
        // Deletions of elements that are present are applied (a delta may carry both).
        let deletions: DotSet = try reader.read()
        for (replica, ranges) in deletions.ranges {
            for range in ranges { delete(range, of: replica) }
        }
    }
}
