/// The named fields of a document, one dictionary per CRDT type. A field is
/// identified by its type and name together, so two replicas that create a
/// field of the same name with different types never conflict. Separate
/// dictionaries let `fields.texts[name, default: …]` mutate a sequence in place.
/// Names of fields, per type (the fields a batch of local operations touched).
struct FieldNames: Sendable, Equatable {
    var gCounters: Set<String> = []
    var pnCounters: Set<String> = []
    var registers: Set<String> = []
    var sets: Set<String> = []
    var maps: Set<String> = []
    var lists: Set<String> = []
    var texts: Set<String> = []
}

struct DocumentFields: Sendable, Equatable {
    var gCounters: [String: GCounter] = [:]
    var pnCounters: [String: PNCounter] = [:]
    var registers: [String: LWWRegister<CRDTValue>] = [:]
    var sets: [String: ORSet<CRDTValue>] = [:]
    var maps: [String: LWWMap<String, CRDTValue>] = [:]
    var lists: [String: RGASequence<CRDTValue>] = [:]
    var texts: [String: RGASequence<Unicode.Scalar>] = [:]

    var isInitialState: Bool {
        gCounters.isEmpty && pnCounters.isEmpty && registers.isEmpty && sets.isEmpty && maps.isEmpty && lists.isEmpty && texts.isEmpty
    }

    mutating func merge(_ other: DocumentFields) {
        Self.merge(&gCounters, other.gCounters)
        Self.merge(&pnCounters, other.pnCounters)
        Self.merge(&registers, other.registers)
        Self.merge(&sets, other.sets)
        Self.merge(&maps, other.maps)
        Self.merge(&lists, other.lists)
        Self.merge(&texts, other.texts)
    }

    private static func merge<T: StateCRDT>(_ mine: inout [String: T], _ theirs: [String: T]) {
        for (name, state) in theirs {
            if mine[name] == nil { mine[name] = state } else { mine[name]!.merge(state) }
        }
    }

    /// Deltas of every field, or only of the fields named in `only`.
    func delta(since vector: StateVector, only: FieldNames? = nil) -> DocumentFields {
        DocumentFields(gCounters: Self.delta(gCounters, vector, only?.gCounters), pnCounters: Self.delta(pnCounters, vector, only?.pnCounters),
                       registers: Self.delta(registers, vector, only?.registers), sets: Self.delta(sets, vector, only?.sets),
                       maps: Self.delta(maps, vector, only?.maps), lists: Self.delta(lists, vector, only?.lists),
                       texts: Self.delta(texts, vector, only?.texts))
    }

    private static func delta<T: StateCRDT>(_ fields: [String: T], _ vector: StateVector, _ only: Set<String>?) -> [String: T] {
        var result: [String: T] = [:]
        if let only {
            for name in only {
                guard let part = fields[name]?.delta(since: vector), !part.isInitialState else { continue }
                result[name] = part
            }
            return result
        }
        for (name, state) in fields {
            let part = state.delta(since: vector)
            if !part.isInitialState { result[name] = part }
        }
        return result
    }

    /// Sections in a fixed type order, names sorted within each.
    func encode(to writer: inout BinaryWriter) {
        Self.encode(gCounters, &writer)
        Self.encode(pnCounters, &writer)
        Self.encode(registers, &writer)
        Self.encode(sets, &writer)
        Self.encode(maps, &writer)
        Self.encode(lists, &writer)
        Self.encode(texts, &writer)
    }

    private static func encode<T: StateCRDT>(_ fields: [String: T], _ writer: inout BinaryWriter) {
        let sorted = fields.sorted { $0.key < $1.key }
        writer.write(count: sorted.count)
        for (name, state) in sorted {
            writer.write(string: name)
            state.encode(to: &writer)
        }
    }

    init(gCounters: [String: GCounter] = [:], pnCounters: [String: PNCounter] = [:], registers: [String: LWWRegister<CRDTValue>] = [:],
         sets: [String: ORSet<CRDTValue>] = [:], maps: [String: LWWMap<String, CRDTValue>] = [:],
         lists: [String: RGASequence<CRDTValue>] = [:], texts: [String: RGASequence<Unicode.Scalar>] = [:]) {
        self.gCounters = gCounters
        self.pnCounters = pnCounters
        self.registers = registers
        self.sets = sets
        self.maps = maps
        self.lists = lists
        self.texts = texts
    }

    init(from reader: inout BinaryReader) throws {
        gCounters = try Self.decode(&reader)
        pnCounters = try Self.decode(&reader)
        registers = try Self.decode(&reader)
        sets = try Self.decode(&reader)
        maps = try Self.decode(&reader)
        lists = try Self.decode(&reader)
        texts = try Self.decode(&reader)
    }

    private static func decode<T: StateCRDT>(_ reader: inout BinaryReader) throws -> [String: T] {
        let n = try reader.readCount(minimumElementSize: 2)
        var result: [String: T] = [:]
        var previous: String?
        for _ in 0..<n {
            let name = try reader.readString()
            guard previous.map({ $0 < name }) ?? true else { throw CRDTDecodingError.malformed("field names unsorted") }
            previous = name
            result[name] = try T(from: &reader)
        }
        return result
    }
}
