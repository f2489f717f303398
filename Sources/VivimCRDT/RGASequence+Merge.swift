extension RGASequence: StateCRDT {
    public static var wireKind: UInt8 { WireFormat.Kind.sequence.rawValue }

    /// A run to integrate: ids `counter ..< counter + length` of replica `replica`.
    struct Run {
        var replica: Int32
        var counter: UInt64
        var lamport: UInt64
        var length: Int
        var originReplica: Int32
        var originCounter: UInt64
        var isDeleted: Bool
        var contentStart: Int32
    }

    /// Integrates a run whose ids are all absent. Returns false, changing
    /// nothing, if its origin is not here yet.
    mutating func integrate(_ run: Run) -> Bool {
        var position = 0, slot = 0
        var originChunk: Int32 = -1
        if run.originReplica >= 0 {
            let originHandle = owners[Int(run.originReplica)].handle(at: run.originCounter)
            guard originHandle >= 0 else { return false }
            let (chunkID, originSlot) = location(of: originHandle)
            let offset = Int(run.originCounter - items[Int(originHandle)].counter)
            if offset < Int(items[Int(originHandle)].length) - 1 {
                split(chunk: chunkID, slot: originSlot, at: offset + 1)
            }
            position = self.position(ofChunk: Int32(chunkID))
            slot = originSlot + 1
            originChunk = Int32(chunkID)
        }
        // RGA: skip the siblings (and their subtrees) with a greater timestamp.
        let key = (run.lamport, replicaIDs[Int(run.replica)])
        while true {
            let chunk = chunks[Int(order[position])]
            if slot < chunk.count {
                let next = items[Int(chunk[slot])]
                if (next.lamport, replicaIDs[Int(next.replica)]) > key { slot += 1; continue }
                break
            }
            guard position + 1 < order.count else { break }
            position += 1
            slot = 0
        }
        let item = Item(replica: run.replica, isDeleted: run.isDeleted, length: Int32(run.length), counter: run.counter,
                        lamport: run.lamport, originReplica: run.originReplica, originCounter: run.originCounter,
                        contentStart: run.contentStart, chunk: order[position])
        maxLamport = max(maxLamport, run.lamport + UInt64(run.length) - 1)
        cursorPosition = 0
        cursorStart = 0
        let chunkID = Int(order[position])
        if slot > 0, canAppend(items[Int(chunks[chunkID][slot - 1])], item) {
            let handle = chunks[chunkID][slot - 1]
            items[Int(handle)].length += item.length
            owners[Int(run.replica)].set(item.counter..<item.counterEnd, to: handle)
            if !item.isDeleted {
                chunkVisible[chunkID] += run.length
                count += run.length
            }
        } else {
            insertItem(item, position: position, index: slot)
        }
        if originChunk >= 0, chunks[Int(originChunk)].count > Self.maxChunkItems {
            splitChunk(at: self.position(ofChunk: originChunk))
        }
        let replica = replicaIDs[Int(run.replica)]
        if pendingDeletes.ranges[replica] != nil {
            for range in pendingDeletes.intersection(item.counter..<item.counterEnd, of: replica) {
                pendingDeletes.remove(range, of: replica)
                delete(range, of: replica)
            }
        }
        return true
    }

    /// Deletes the elements with ids `range` of `replica`; ids not present
    /// yet are remembered and deleted on arrival.
    mutating func delete(_ range: Range<UInt64>, of replica: ReplicaID) {
        guard let r = replicaIndices[replica] else {
            pendingDeletes.insert(range, of: replica)
            return
        }
        cursorPosition = 0
        cursorStart = 0
        var counter = range.lowerBound
        while counter < range.upperBound {
            let handle = owners[Int(r)].handle(at: counter)
            if handle < 0 {
                let next = owners[Int(r)].firstPresent(in: counter..<range.upperBound) ?? range.upperBound
                pendingDeletes.insert(counter..<next, of: replica)
                counter = next
                continue
            }
            let item = items[Int(handle)]
            let end = min(item.counterEnd, range.upperBound)
            if !item.isDeleted {
                var (chunkID, slot) = location(of: handle)
                if counter > item.counter {
                    split(chunk: chunkID, slot: slot, at: Int(counter - item.counter))
                    slot += 1
                }
                let target = chunks[chunkID][slot]
                if end < items[Int(target)].counterEnd {
                    split(chunk: chunkID, slot: slot, at: Int(end - counter))
                }
                let deleted = chunks[chunkID][slot]
                items[Int(deleted)].isDeleted = true
                chunkVisible[chunkID] -= Int(end - counter)
                count -= Int(end - counter)
                coalesce(chunk: chunkID, slot: slot)
                if chunks[chunkID].count > Self.maxChunkItems { splitChunk(at: position(ofChunk: Int32(chunkID))) }
            }
            counter = end
        }
    }

    /// Replaces the deletions this (delta) state carries by `deletions`,
    /// applying those of elements it holds.
    mutating func replaceDeletions(with deletions: DotSet) {
        pendingDeletes = DotSet()
        for (replica, ranges) in deletions.ranges {
            for range in ranges { delete(range, of: replica) }
        }
    }

    /// Merges another replica's state or a delta of it: integrates the runs
    /// this replica lacks, in the other's document order (an origin always
    /// precedes what was inserted after it), then applies its deletions.
    public mutating func merge(_ other: RGASequence) {
        var deferred: [Run] = []
        var otherDeletes = other.pendingDeletes
        other.forEachItem { item in
            let replica = other.replicaIDs[Int(item.replica)]
            if item.isDeleted { otherDeletes.insert(item.counter..<item.counterEnd, of: replica) }
            let r = replicaIndex(for: replica)
            var counter = item.counter
            while counter < item.counterEnd {
                let present = owners[Int(r)].handle(at: counter)
                if present >= 0 {
                    counter = min(items[Int(present)].counterEnd, item.counterEnd)
                    continue
                }
                var end = counter + 1
                while end < item.counterEnd, owners[Int(r)].handle(at: end) < 0 { end += 1 }
                let offset = Int(counter - item.counter)
                var contentStart: Int32 = -1
                if !item.isDeleted {
                    contentStart = Int32(content.count)
                    let from = Int(item.contentStart) + offset
                    content.append(contentsOf: other.content[from..<from + Int(end - counter)])
                }
                let origin: (Int32, UInt64) = offset == 0
                    ? (item.originReplica < 0 ? -1 : replicaIndex(for: other.replicaIDs[Int(item.originReplica)]), item.originCounter)
                    : (r, counter - 1)
                let run = Run(replica: r, counter: counter, lamport: item.lamport + UInt64(offset), length: Int(end - counter),
                              originReplica: origin.0, originCounter: origin.1, isDeleted: item.isDeleted, contentStart: contentStart)
                if !integrate(run) { deferred.append(run) }
                counter = end
            }
        }
        // Only reachable with input that is not causally closed; retry until no progress.
        var progress = true
        while progress, !deferred.isEmpty {
            progress = false
            deferred.removeAll { run in
                guard owners[Int(run.replica)].handle(at: run.counter) < 0 else { return true }
                if integrate(run) { progress = true; return true }
                return false
            }
        }
        for (replica, ranges) in otherDeletes.ranges {
            for range in ranges { delete(range, of: replica) }
        }
    }

    /// The runs with ids not covered by `vector`, in document order, plus
    /// every deletion of an element the vector does cover.
    public func delta(since vector: StateVector) -> RGASequence {
        var result = RGASequence()
        result.pendingDeletes = pendingDeletes
        forEachItem { item in
            let replica = replicaIDs[Int(item.replica)]
            let seen = vector[replica]
            if item.counter < seen, item.isDeleted {
                result.pendingDeletes.insert(item.counter..<min(seen, item.counterEnd), of: replica)
            }
            guard item.counterEnd > seen else { return }
            let offset = seen > item.counter ? Int(seen - item.counter) : 0
            result.append(piece(of: item, from: offset), from: self)
        }
        return result
    }

    /// Calls `body` with each item in document order.
    func forEachItem(_ body: (Item) throws -> Void) rethrows {
        for chunkID in order {
            for handle in chunks[Int(chunkID)] { try body(items[Int(handle)]) }
        }
    }

    /// The part of `item` from `offset` on, as an item in this sequence's index space.
    func piece(of item: Item, from offset: Int) -> Item {
        guard offset > 0 else { return item }
        var piece = item
        let k = UInt64(offset)
        piece.counter += k
        piece.lamport += k
        piece.length -= Int32(offset)
        piece.originReplica = item.replica
        piece.originCounter = item.counter + k - 1
        if piece.contentStart >= 0 { piece.contentStart += Int32(offset) }
        return piece
    }

    /// Appends `item` of `source` at the end, without integration (used to
    /// build deltas and to load an encoded state, which is in document order).
    mutating func append(_ item: Item, from source: RGASequence) {
        let r = replicaIndex(for: source.replicaIDs[Int(item.replica)])
        let origin = item.originReplica < 0 ? -1 : replicaIndex(for: source.replicaIDs[Int(item.originReplica)])
        var contentStart: Int32 = -1
        if !item.isDeleted {
            contentStart = Int32(content.count)
            content.append(contentsOf: source.content[Int(item.contentStart)..<Int(item.contentStart) + Int(item.length)])
        }
        appendRun(Run(replica: r, counter: item.counter, lamport: item.lamport, length: Int(item.length),
                      originReplica: origin, originCounter: item.originCounter, isDeleted: item.isDeleted, contentStart: contentStart))
    }

    /// Appends a run at the end, extending the last item when it continues it.
    mutating func appendRun(_ run: Run) {
        let position = order.count - 1
        let chunkID = Int(order[position])
        let item = Item(replica: run.replica, isDeleted: run.isDeleted, length: Int32(run.length), counter: run.counter,
                        lamport: run.lamport, originReplica: run.originReplica, originCounter: run.originCounter,
                        contentStart: run.contentStart, chunk: Int32(chunkID))
        maxLamport = max(maxLamport, run.lamport + UInt64(run.length) - 1)
        if let last = chunks[chunkID].last, canAppend(items[Int(last)], item) {
            items[Int(last)].length += item.length
            owners[Int(run.replica)].set(item.counter..<item.counterEnd, to: last)
            if !item.isDeleted {
                chunkVisible[chunkID] += run.length
                count += run.length
            }
        } else {
            insertItem(item, position: position, index: chunks[chunkID].count)
        }
    }

    public var isInitialState: Bool { pendingDeletes.isEmpty && order.allSatisfy { chunks[Int($0)].isEmpty } }

    public static func == (lhs: RGASequence, rhs: RGASequence) -> Bool { lhs.encoded() == rhs.encoded() }
}
