/// An add-wins observed-remove set (Shapiro et al. 2011, Spec. 15; with
/// Bieniusa et al. 2012's dot tags). Each add is tagged with a fresh dot; a
/// remove deletes the dots it has observed. A concurrent add carries a dot the
/// remove never saw, so it survives: add wins. Removed dots are kept as
/// compact ranges (a `DotSet`) so a late-arriving add of a removed dot stays removed.
public struct ORSet<Element: BinaryCodable & Hashable & Sendable>: StateCRDT {
    public static var wireKind: UInt8 { WireFormat.Kind.orSet.rawValue }

    /// Live tags per element; an element is in the set while it has a tag.
    var tags: [Element: Set<Dot>] = [:]
    /// Every removed tag.
    public private(set) var removed = DotSet()

    public init() {}

    public func contains(_ element: Element) -> Bool { tags[element] != nil }
    public var elements: Set<Element> { Set(tags.keys) }
    public var count: Int { tags.count }

    /// Adds `element`, tagged with the fresh operation id `dot`.
    public mutating func insert(_ element: Element, at dot: Dot) {
        guard !removed.contains(dot) else { return }
        tags[element, default: []].insert(dot)
    }

    /// Removes `element` by deleting the tags seen here; returns those tags.
    @discardableResult
    public mutating func remove(_ element: Element) -> [Dot] {
        guard let dots = tags.removeValue(forKey: element) else { return [] }
        for dot in dots { removed.insert(dot) }
        return Array(dots)
    }

    public mutating func merge(_ other: ORSet) {
        removed.formUnion(other.removed)
        for (element, dots) in other.tags {
            tags[element, default: []].formUnion(dots)
        }
        pruneRemoved()
    }

    /// Applies removals merged from elsewhere to the live tags.
    mutating func pruneRemoved() {
        guard !removed.isEmpty else { return }
        for (element, dots) in tags {
            let live = dots.filter { !removed.contains($0) }
            if live.isEmpty {
                tags.removeValue(forKey: element)
            } else if live.count != dots.count {
                tags[element] = live
            }
        }
    }

    /// Adds not covered by `vector`, and every removal (removals carry no dot
    /// of their own, so a peer's state vector cannot tell which it has seen).
    public func delta(since vector: StateVector) -> ORSet {
        var result = ORSet()
        result.removed = removed
        for (element, dots) in tags {
            let fresh = dots.filter { !vector.contains($0) }
            if !fresh.isEmpty { result.tags[element] = fresh }
        }
        return result
    }

    /// Replaces the removals a delta carries (a local change ships only its own).
    mutating func replaceRemovals(_ removals: DotSet) { removed = removals }

    public var isInitialState: Bool { tags.isEmpty && removed.isEmpty }

    /// Canonical order: elements by their smallest tag, tags ascending.
    public func encode(to writer: inout BinaryWriter) {
        let sorted = tags.map { ($0.key, $0.value.sorted()) }.sorted { $0.1[0] < $1.1[0] }
        writer.write(count: sorted.count)
        for (element, dots) in sorted {
            writer.write(element)
            writer.write(count: dots.count)
            for dot in dots { writer.write(dot) }
        }
        writer.write(removed)
    }

    public init(from reader: inout BinaryReader) throws {
        let n = try reader.readCount(minimumElementSize: 3)
        var previousFirst: Dot?
        var seen = Set<Dot>()
        for _ in 0..<n {
            let element: Element = try reader.read()
            let m = try reader.readCount(minimumElementSize: 2)
            guard m > 0, tags[element] == nil else { throw CRDTDecodingError.malformed("set element") }
            var dots = Set<Dot>()
            var previous: Dot?
            for _ in 0..<m {
                let dot: Dot = try reader.read()
                guard previous.map({ $0 < dot }) ?? true, seen.insert(dot).inserted else {
                    throw CRDTDecodingError.malformed("set tags unsorted or repeated")
                }
                previous = dot
                dots.insert(dot)
            }
            let first = dots.min()!
            guard previousFirst.map({ $0 < first }) ?? true else { throw CRDTDecodingError.malformed("set elements unsorted") }
            previousFirst = first
            tags[element] = dots
        }
        removed = try reader.read()
        pruneRemoved()
    }
}
