/// A replicated sequence: RGA (Replicated Growable Array; Roh, Jeon, Kim, Lee,
/// "Replicated abstract data types: Building blocks for collaborative
/// applications", JPDC 2011) with run-length items (RGA-split; Briot, Urso,
/// Shapiro, "High Responsiveness for Group Editing CRDTs", GROUP 2016).
///
/// Each element has an id `(replica, counter)`, a Lamport timestamp and an
/// origin: the element it was inserted after. A new element goes right after
/// its origin, after every sibling with a greater `(lamport, replica)` (and
/// that sibling's descendants, which all have greater timestamps still), so
/// all replicas order concurrent inserts the same way. Deleted elements stay
/// as tombstones without content. See docs/decisions/0002-sequence-crdt.md.
///
/// Internals, chosen for long documents: consecutive elements typed by one
/// replica form one item (run); items live in chunks of at most
/// `maxChunkItems` handles with cached visible lengths, and a cursor caches the
/// last chunk visited, so a local edit near the previous one costs O(chunk)
/// and a far one O(chunks). `OwnerIndex` maps an id to its item in O(1).
public struct RGASequence<Element: BinaryCodable & Hashable & Sendable>: Sendable {
    struct Item: Sendable {
        var replica: Int32
        var isDeleted: Bool
        var length: Int32
        var counter: UInt64
        var lamport: UInt64
        /// Replica index of the origin; -1 for the start of the document.
        var originReplica: Int32
        var originCounter: UInt64
        /// Offset of the first element in `content`; -1 for a tombstone received without content.
        var contentStart: Int32
        var chunk: Int32

        var counterEnd: UInt64 { counter + UInt64(length) }
    }

    static var maxChunkItems: Int { 64 }

    var replicaIDs: [ReplicaID] = []
    var replicaIndices: [ReplicaID: Int32] = [:]
    var owners: [OwnerIndex] = []
    var items: ContiguousArray<Item> = []
    var freeHandles: [Int32] = []
    var content: ContiguousArray<Element> = []
    var chunks: ContiguousArray<ContiguousArray<Int32>> = [[]]
    var chunkVisible: ContiguousArray<Int> = [0]
    var order: ContiguousArray<Int32> = [0]
    var orderIndex: ContiguousArray<Int32> = [0]
    var orderIndexIsValid = true
    var cursorPosition = 0
    var cursorStart = 0
    /// Greatest Lamport timestamp of any element; local inserts go above it.
    var maxLamport: UInt64 = 0
    /// Deletions of elements not received yet; applied when they arrive.
    var pendingDeletes = DotSet()

    /// Number of visible elements.
    public internal(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// The visible elements, in order.
    public var elements: [Element] {
        var result: [Element] = []
        result.reserveCapacity(count)
        forEachVisibleRun { result.append(contentsOf: $0) }
        return result
    }

    func forEachVisibleRun(_ body: (ArraySlice<Element>) -> Void) {
        content.withUnsafeBufferPointer { storage in
            for chunkID in order {
                for handle in chunks[Int(chunkID)] {
                    let item = items[Int(handle)]
                    guard !item.isDeleted else { continue }
                    let start = Int(item.contentStart)
                    body(ArraySlice(storage[start..<start + Int(item.length)]))
                }
            }
        }
    }

    // MARK: Local edits

    /// Inserts `elements` before position `index` as operations
    /// `firstCounter ..< firstCounter + elements.count` of `replica`.
    /// Returns the id of the element inserted after (nil: the start), which
    /// a receiver must have before it can integrate this insert.
    @discardableResult
    public mutating func insert(contentsOf elements: some Collection<Element>, at index: Int, replica: ReplicaID, firstCounter: UInt64) -> Dot? {
        precondition(index >= 0 && index <= count, "index \(index) out of bounds 0...\(count)")
        let n = elements.count
        guard n > 0 else { return nil }
        let r = replicaIndex(for: replica)
        let lamport = maxLamport + 1
        maxLamport += UInt64(n)
        let contentStart = Int32(content.count)
        content.append(contentsOf: elements)
        var item = Item(replica: r, isDeleted: false, length: Int32(n), counter: firstCounter, lamport: lamport,
                        originReplica: -1, originCounter: 0, contentStart: contentStart, chunk: 0)
        if index == 0 {
            insertItem(item, position: 0, index: 0)
            return nil
        }
        let (position, slot, offset) = locate(index - 1)
        let chunkID = Int(order[position])
        let handle = chunks[chunkID][slot]
        let before = items[Int(handle)]
        item.originReplica = before.replica
        item.originCounter = before.counter + UInt64(offset)
        let origin = Dot(replica: replicaIDs[Int(before.replica)], counter: item.originCounter)
        if offset == Int(before.length) - 1 {
            // Typing at the end of one's own run: grow it in place.
            if canAppend(before, item) {
                items[Int(handle)].length += Int32(n)
                owners[Int(r)].set(firstCounter..<firstCounter + UInt64(n), to: handle)
                chunkVisible[chunkID] += n
                count += n
                return origin
            }
        } else {
            split(chunk: chunkID, slot: slot, at: offset + 1)
        }
        // RGA: a local insert has the greatest timestamp, so it goes right after its origin.
        insertItem(item, position: position, index: slot + 1)
        return origin
    }

    /// Removes `length` visible elements starting at `index`; `deleted` is
    /// called with the ids removed, as ranges of one replica's counters.
    public mutating func remove(at index: Int, count length: Int = 1, deleted: (ReplicaID, Range<UInt64>) -> Void = { _, _ in }) {
        precondition(index >= 0 && length >= 0 && index + length <= count, "range \(index)..<\(index + length) out of bounds")
        var remaining = length
        while remaining > 0 {
            let (position, slot, offset) = locate(index)
            let chunkID = Int(order[position])
            var target = slot
            if offset > 0 {
                split(chunk: chunkID, slot: slot, at: offset)
                target += 1
            }
            let take = min(remaining, Int(items[Int(chunks[chunkID][target])].length))
            if take < Int(items[Int(chunks[chunkID][target])].length) {
                split(chunk: chunkID, slot: target, at: take)
            }
            let handle = Int(chunks[chunkID][target])
            items[handle].isDeleted = true
            chunkVisible[chunkID] -= take
            count -= take
            deleted(replicaIDs[Int(items[handle].replica)], items[handle].counter..<items[handle].counterEnd)
            coalesce(chunk: chunkID, slot: target)
            if chunks[chunkID].count > Self.maxChunkItems { splitChunk(at: position) }
            remaining -= take
        }
    }

    // MARK: Structure

    func replicaIndexIfKnown(_ replica: ReplicaID) -> Int32? { replicaIndices[replica] }

    mutating func replicaIndex(for replica: ReplicaID) -> Int32 {
        if let index = replicaIndices[replica] { return index }
        let index = Int32(replicaIDs.count)
        replicaIDs.append(replica)
        replicaIndices[replica] = index
        owners.append(OwnerIndex())
        return index
    }

    /// Finds the visible element at `index`: chunk position in `order`, slot
    /// in the chunk, offset in the item. Walks from the cached cursor.
    mutating func locate(_ index: Int) -> (position: Int, slot: Int, offset: Int) {
        var position = cursorPosition, start = cursorStart
        if position >= order.count || start > count { position = 0; start = 0 }
        while index < start {
            position -= 1
            start -= chunkVisible[Int(order[position])]
        }
        while index >= start + chunkVisible[Int(order[position])] {
            start += chunkVisible[Int(order[position])]
            position += 1
        }
        cursorPosition = position
        cursorStart = start
        var remaining = index - start
        let chunkID = Int(order[position])
        let found: (Int, Int)? = chunks[chunkID].withUnsafeBufferPointer { handles in
            items.withUnsafeBufferPointer { items in
                for slot in 0..<handles.count {
                    let item = items[Int(handles[slot])]
                    guard !item.isDeleted else { continue }
                    if remaining < Int(item.length) { return (slot, remaining) }
                    remaining -= Int(item.length)
                }
                return nil
            }
        }
        guard let found else { preconditionFailure("chunk lengths out of sync") }
        return (position, found.0, found.1)
    }

    /// True if `next` continues `item`'s run: same replica, consecutive ids
    /// and timestamps, origin the last element of `item`, same deletion state.
    func canAppend(_ item: Item, _ next: Item) -> Bool {
        item.replica == next.replica && item.isDeleted == next.isDeleted
            && next.counter == item.counterEnd && next.lamport == item.lamport + UInt64(item.length)
            && next.originReplica == item.replica && next.originCounter == item.counterEnd - 1
            && (item.isDeleted || next.contentStart == item.contentStart + item.length)
    }

    mutating func allocate(_ item: Item) -> Int32 {
        if let handle = freeHandles.popLast() {
            items[Int(handle)] = item
            return handle
        }
        items.append(item)
        return Int32(items.count - 1)
    }

    /// Inserts a new item before slot `index` of the chunk at `position`.
    mutating func insertItem(_ newItem: Item, position: Int, index: Int) {
        var item = newItem
        let chunkID = Int(order[position])
        item.chunk = Int32(chunkID)
        let handle = allocate(item)
        chunks[chunkID].insert(handle, at: index)
        owners[Int(item.replica)].set(item.counter..<item.counterEnd, to: handle)
        if !item.isDeleted {
            chunkVisible[chunkID] += Int(item.length)
            count += Int(item.length)
            if cursorPosition > position { cursorStart += Int(item.length) }
        }
        if chunks[chunkID].count > Self.maxChunkItems { splitChunk(at: position) }
    }

    /// Splits the item at `slot` into `[0, offset)` and `[offset, length)`;
    /// the right part ends up at `slot + 1`. The smaller part gets the new
    /// handle, so re-pointing ids costs O(smaller part).
    mutating func split(chunk chunkID: Int, slot: Int, at offset: Int) {
        let handle = chunks[chunkID][slot]
        var left = items[Int(handle)]
        precondition(offset > 0 && offset < Int(left.length))
        var right = left
        let k = UInt64(offset)
        right.counter += k
        right.lamport += k
        right.length -= Int32(offset)
        right.originReplica = left.replica
        right.originCounter = left.counter + k - 1
        if right.contentStart >= 0 { right.contentStart += Int32(offset) }
        left.length = Int32(offset)
        if right.length <= left.length {
            items[Int(handle)] = left
            let newHandle = allocate(right)
            owners[Int(right.replica)].set(right.counter..<right.counterEnd, to: newHandle)
            chunks[chunkID].insert(newHandle, at: slot + 1)
        } else {
            items[Int(handle)] = right
            let newHandle = allocate(left)
            owners[Int(left.replica)].set(left.counter..<left.counterEnd, to: newHandle)
            chunks[chunkID].insert(newHandle, at: slot)
        }
    }

    /// Merges the item at `slot` with its neighbours where they form one run.
    mutating func coalesce(chunk chunkID: Int, slot: Int) {
        if slot + 1 < chunks[chunkID].count { join(chunk: chunkID, slot: slot) }
        if slot > 0 { join(chunk: chunkID, slot: slot - 1) }
    }

    /// Joins items at `slot` and `slot + 1` if the second continues the first.
    private mutating func join(chunk chunkID: Int, slot: Int) {
        let a = chunks[chunkID][slot], b = chunks[chunkID][slot + 1]
        let first = items[Int(a)], second = items[Int(b)]
        guard canAppend(first, second) else { return }
        var merged = first
        merged.length += second.length
        if first.isDeleted, second.contentStart != first.contentStart + first.length { merged.contentStart = -1 }
        if first.length >= second.length {
            items[Int(a)] = merged
            owners[Int(first.replica)].set(second.counter..<second.counterEnd, to: a)
            freeHandles.append(b)
            chunks[chunkID].remove(at: slot + 1)
        } else {
            merged.chunk = second.chunk
            items[Int(b)] = merged
            owners[Int(first.replica)].set(first.counter..<first.counterEnd, to: b)
            freeHandles.append(a)
            chunks[chunkID].remove(at: slot)
        }
    }

    mutating func splitChunk(at position: Int) {
        let chunkID = Int(order[position])
        let half = chunks[chunkID].count / 2
        let moved = ContiguousArray(chunks[chunkID][half...])
        chunks[chunkID].removeSubrange(half...)
        let newID = Int32(chunks.count)
        var visible = 0
        for handle in moved {
            items[Int(handle)].chunk = newID
            if !items[Int(handle)].isDeleted { visible += Int(items[Int(handle)].length) }
        }
        chunks.append(moved)
        chunkVisible[chunkID] -= visible
        chunkVisible.append(visible)
        orderIndex.append(0)
        order.insert(newID, at: position + 1)
        orderIndexIsValid = false
        if cursorPosition > position { cursorPosition += 1 }
    }

    /// Position of a chunk in `order`.
    mutating func position(ofChunk chunkID: Int32) -> Int {
        if !orderIndexIsValid {
            for (position, id) in order.enumerated() { orderIndex[Int(id)] = Int32(position) }
            orderIndexIsValid = true
        }
        return Int(orderIndex[Int(chunkID)])
    }

    /// Chunk and slot of the item with `handle`.
    mutating func location(of handle: Int32) -> (chunk: Int, slot: Int) {
        let chunkID = Int(items[Int(handle)].chunk)
        guard let slot = chunks[chunkID].firstIndex(of: handle) else { preconditionFailure("item not in its chunk") }
        return (chunkID, slot)
    }
}

extension RGASequence where Element == Unicode.Scalar {
    /// The visible text.
    public var text: String {
        var scalars = String.UnicodeScalarView()
        forEachVisibleRun { scalars.append(contentsOf: $0) }
        return String(scalars)
    }
}
