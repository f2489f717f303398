import Foundation
import VivimCore

/// The filter stage (SPEC §7.1 stage 2): applies the intent's scope (SPEC §4) and the
/// filter flags of its `Transformations`, in this order: scope selection (PARTIAL),
/// removeSystemMessages, removeToolCalls, removeImages, redactPersonalInfo, then the
/// derived scopes (SUMMARY, PREVIEW) so a summary is cut from already-redacted text.
/// Messages left empty are dropped. Pure: no I/O, deterministic.
public struct FilterStage: Sendable {
    /// SUMMARY: at most this many characters of text in total, at most
    /// `summaryPerMessage` from one message.
    public static let summaryLimit = 2_000
    public static let summaryPerMessage = 300
    /// PREVIEW: at most this many characters in total, `previewPerMessage` per message.
    public static let previewLimit = 500
    public static let previewPerMessage = 160

    public var redactor: PIIRedactor

    public init(redactor: PIIRedactor = PIIRedactor()) {
        self.redactor = redactor
    }

    public func run(_ raw: RawContent, content: IntentContent, transformations: Transformations?) -> FilteredContent {
        run(raw, scope: content.scope, includeACUs: content.includeACUs?.map(\.rawValue),
            excludeACUs: content.excludeACUs?.map(\.rawValue), transformations: transformations ?? Transformations())
    }

    public func run(_ raw: RawContent, scope: ContentScope, includeACUs: [String]? = nil, excludeACUs: [String]? = nil,
                    transformations: Transformations) -> FilteredContent {
        let clock = ContinuousClock()
        let started = clock.now
        var work = Work(title: raw.title, messages: raw.messages, acus: raw.messages.isEmpty ? raw.acus : [])

        if scope == .partial {
            work.apply("scope:PARTIAL") { $0.selectACUs(from: raw.acus, include: includeACUs, exclude: excludeACUs) }
        }
        if transformations.removeSystemMessages {
            work.apply("removeSystemMessages") { work in
                work.removeMessages { $0.role == .system }
            }
        }
        if transformations.removeToolCalls {
            work.apply("removeToolCalls") { work in
                work.removeMessages { $0.role == .tool }
                    + work.removeParts { $0.isTool }
                    + work.removeACUs { $0.type == .toolCall || $0.type == .toolResult }
            }
        }
        if transformations.removeImages {
            work.apply("removeImages") { work in
                work.removeParts { $0.isImage } + work.removeACUs { $0.type == .image }
            }
        }
        if transformations.redactPersonalInfo {
            work.redact(with: redactor)
        }
        if scope == .summary {
            work.apply("scope:SUMMARY") { $0.summarize(limit: Self.summaryLimit, perMessage: Self.summaryPerMessage) }
        } else if scope == .preview {
            work.apply("scope:PREVIEW") { $0.summarize(limit: Self.previewLimit, perMessage: Self.previewPerMessage) }
        }

        let originalSize = raw.byteSize
        let filteredSize = work.size
        let itemsRemoved = work.filters.filter { $0.name != "redactPersonalInfo" }.reduce(0) { $0 + $1.itemsRemoved }
        var counters: [String: Int] = [:]
        for filter in work.filters {
            counters["removed.\(filter.name)"] = filter.itemsRemoved
            for (kind, count) in filter.redactions { counters["pii.\(kind)"] = count }
        }
        let report = StageReport(stage: "filter", inputBytes: originalSize, outputBytes: filteredSize,
                                 messagesIn: raw.messages.count, messagesOut: work.messages.count,
                                 counters: counters, elapsed: clock.now - started)
        return FilteredContent(type: raw.type, title: work.title, provider: raw.provider, sourceURL: raw.sourceURL,
                               model: raw.model, createdAt: raw.createdAt, scope: scope, messages: work.messages,
                               acus: work.acus, appliedFilters: work.filters, originalSize: originalSize,
                               filteredSize: filteredSize, itemsRemoved: itemsRemoved, report: report)
    }
}

/// The content while filters run, and the log of what they did.
private struct Work {
    var title: String
    var messages: [RawMessage]
    var acus: [RawACU]
    var filters: [AppliedFilter] = []

    var size: Int { FilteredContent.size(title: title, messages: messages, acus: acus) }

    /// Runs `filter` (which returns the number of items it removed), drops messages it left
    /// empty (counted as removed too) and records the result.
    mutating func apply(_ name: String, _ filter: (inout Work) -> Int) {
        let before = size
        var removed = filter(&self)
        removed += removeMessages { message in message.parts.allSatisfy(\.isEmpty) }
        filters.append(AppliedFilter(name: name, itemsRemoved: removed, bytesRemoved: before - size))
    }

    mutating func removeMessages(where predicate: (RawMessage) -> Bool) -> Int {
        let count = messages.count
        messages.removeAll(where: predicate)
        return count - messages.count
    }

    mutating func removeParts(where predicate: (ContentPart) -> Bool) -> Int {
        var removed = 0
        for m in messages.indices {
            let count = messages[m].parts.count
            messages[m].parts.removeAll(where: predicate)
            removed += count - messages[m].parts.count
        }
        return removed
    }

    mutating func removeACUs(where predicate: (RawACU) -> Bool) -> Int {
        let count = acus.count
        acus.removeAll(where: predicate)
        return count - acus.count
    }

    /// PARTIAL: keeps the ACUs named by `include` (all when nil) minus `exclude`. Messages are
    /// rebuilt from their kept ACUs, so excluded units disappear from the text too; messages
    /// with no kept ACU are dropped. Returns ACUs plus messages removed.
    mutating func selectACUs(from all: [RawACU], include: [String]?, exclude: [String]?) -> Int {
        let included = include.map(Set.init)
        let excluded = Set(exclude ?? [])
        let kept = all.filter { (included?.contains($0.id) ?? true) && !excluded.contains($0.id) }
        guard kept.count != all.count else { return 0 }
        if messages.isEmpty {
            acus = kept
            return all.count - kept.count
        }
        let byMessage = Dictionary(grouping: kept, by: \.messageIndex)
        let messageCount = messages.count
        messages = messages.compactMap { message in
            guard let units = byMessage[message.index] else { return nil }
            var rebuilt = message
            rebuilt.parts = Self.parts(from: units.sorted { $0.index < $1.index })
            return rebuilt
        }
        return all.count - kept.count + messageCount - messages.count
    }

    /// Parts for a run of ACUs: text-like units joined by blank lines, the others as
    /// their own part (the inverse of `ACUExtractor`).
    static func parts(from units: [RawACU]) -> [ContentPart] {
        var parts: [ContentPart] = []
        var text: [String] = []
        func flush() {
            if !text.isEmpty { parts.append(.text(text.joined(separator: "\n\n"))) }
            text.removeAll()
        }
        for unit in units {
            switch unit.type {
            case .paragraph, .heading, .list, .table, .quote:
                text.append(unit.content)
            case .code:
                flush()
                parts.append(.code(language: unit.language, code: unit.content))
            case .image:
                flush()
                parts.append(.image(ref: unit.content, alt: nil))
            case .toolCall:
                flush()
                if let open = unit.content.firstIndex(of: "("), unit.content.hasSuffix(")") {
                    let arguments = unit.content[unit.content.index(after: open)..<unit.content.index(before: unit.content.endIndex)]
                    parts.append(.toolCall(name: String(unit.content[..<open]), arguments: String(arguments)))
                } else {
                    parts.append(.toolCall(name: "", arguments: unit.content))
                }
            case .toolResult:
                flush()
                parts.append(.toolResult(name: nil, content: unit.content))
            }
        }
        flush()
        return parts
    }

    /// Redacts title, authors, every text field of every part and standalone ACUs.
    mutating func redact(with redactor: PIIRedactor) {
        var counts: [PIIKind: Int] = [:]
        var bytes = 0
        func clean(_ text: String) -> String {
            let result = redactor.redact(text)
            for (kind, count) in result.counts { counts[kind, default: 0] += count }
            bytes += result.bytesRemoved
            return result.text
        }
        title = clean(title)
        for m in messages.indices {
            messages[m].author = messages[m].author.map(clean)
            messages[m].parts = messages[m].parts.map { $0.mapText(clean) }
        }
        for a in acus.indices { acus[a].content = clean(acus[a].content) }
        let redactions = Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
        filters.append(AppliedFilter(name: "redactPersonalInfo", itemsRemoved: counts.values.reduce(0, +),
                                     bytesRemoved: bytes, redactions: redactions))
    }

    /// SUMMARY and PREVIEW: an extractive digest. Each message keeps only its text, cut to
    /// its leading sentences within `perMessage` characters; messages are taken in order
    /// until `limit` characters in total. Code, tool and image parts are left out.
    mutating func summarize(limit: Int, perMessage: Int) -> Int {
        var budget = limit
        var removed = 0
        var kept: [RawMessage] = []
        for message in messages {
            let text = message.parts.compactMap { part -> String? in
                if case .text(let text) = part { text } else { nil }
            }.joined(separator: " ")
            let allowance = min(perMessage, budget)
            guard allowance >= 20, let excerpt = Excerpt.leadingSentences(of: text, maxCharacters: allowance) else {
                removed += 1
                continue
            }
            budget -= excerpt.count
            removed += message.parts.count - 1
            var summarized = message
            summarized.parts = [.text(excerpt)]
            kept.append(summarized)
        }
        messages = kept
        let acuBudget = limit
        if !acus.isEmpty {
            var remaining = acuBudget
            var keptACUs: [RawACU] = []
            for var unit in acus {
                guard remaining >= 20, let excerpt = Excerpt.leadingSentences(of: unit.content, maxCharacters: min(perMessage, remaining)) else {
                    removed += 1
                    continue
                }
                remaining -= excerpt.count
                unit.content = excerpt
                keptACUs.append(unit)
            }
            acus = keptACUs
        }
        return removed
    }
}

/// Cutting text to a bounded excerpt without splitting words.
enum Excerpt {
    /// Whitespace collapsed; whole sentences while they fit, else the first words that fit
    /// followed by "…". Nil when there is no text. The result has at most `maxCharacters`.
    static func leadingSentences(of text: String, maxCharacters: Int) -> String? {
        let words = text.split(whereSeparator: { $0.isWhitespace })
        guard !words.isEmpty, maxCharacters > 1 else { return nil }
        let flat = words.joined(separator: " ")
        if flat.count <= maxCharacters { return flat }
        // Whole sentences first.
        var sentenceEnd: String.Index?
        var index = flat.startIndex
        var characters = 0
        while index < flat.endIndex, characters < maxCharacters {
            let c = flat[index]
            let next = flat.index(after: index)
            characters += 1
            if (c == "." || c == "!" || c == "?" || c == "。") && (next == flat.endIndex || flat[next] == " ") {
                sentenceEnd = next
            }
            index = next
        }
        if let sentenceEnd { return String(flat[..<sentenceEnd]) }
        return truncate(flat, maxCharacters: maxCharacters)
    }

    /// At most `maxCharacters` characters, cut at a space, ending in "…" when cut.
    static func truncate(_ text: String, maxCharacters: Int) -> String {
        guard text.count > maxCharacters else { return text }
        guard maxCharacters > 1 else { return String(text.prefix(maxCharacters)) }
        let head = text.prefix(maxCharacters - 1)
        let cut = head.lastIndex(of: " ").map { head[..<$0] } ?? head
        return cut.trimmingCharacters(in: .whitespaces) + "…"
    }
}
