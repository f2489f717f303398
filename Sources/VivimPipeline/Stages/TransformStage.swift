import Foundation
import VivimCore

/// Everything the transform stage needs besides the filtered content. `now` is injected so
/// the output is a function of its inputs (watermark timestamps, attribution dates).
public struct TransformOptions: Sendable {
    public var transformations: Transformations
    /// Shown when `transformations.addNotes` is set.
    public var notes: [String]
    public var now: Date
    /// The owner, for attribution.
    public var author: ContentAuthor?
    public var userAnonymization: UserAnonymization
    public var aiAnonymization: AIAnonymization
    public var preview: PreviewOptions

    public init(transformations: Transformations = Transformations(), notes: [String] = [], now: Date, author: ContentAuthor? = nil,
                userAnonymization: UserAnonymization = UserAnonymization(), aiAnonymization: AIAnonymization = AIAnonymization(),
                preview: PreviewOptions = PreviewOptions()) {
        self.transformations = transformations
        self.notes = notes
        self.now = now
        self.author = author
        self.userAnonymization = userAnonymization
        self.aiAnonymization = aiAnonymization
        self.preview = preview
    }
}

/// How `anonymizeUserMessages` hides user messages: authors become "User 1", "User 2", …
/// (the same person keeps the same number within a share) and the content is replaced.
public struct UserAnonymization: Sendable, Equatable {
    /// Keep the length: the content becomes one "•" per character of the original, so a
    /// reader sees how long it was. Otherwise it becomes `replacementText`.
    public var keepLength: Bool
    public var replacementText: String

    public init(keepLength: Bool = false, replacementText: String = "[message hidden]") {
        self.keepLength = keepLength
        self.replacementText = replacementText
    }
}

/// How `anonymizeAIMessages` treats assistant messages. Their content is the point of a
/// share and stays; what is hidden is which AI produced it: the author becomes "Assistant"
/// and the attribution's source URL (which names the provider) is left out, unless
/// `keepModelName` is set, in which case the author is the model name.
public struct AIAnonymization: Sendable, Equatable {
    public var keepModelName: Bool

    public init(keepModelName: Bool = false) {
        self.keepModelName = keepModelName
    }
}

public struct PreviewOptions: Sendable, Equatable {
    public enum Format: String, Sendable { case text, html }
    /// Characters of visible text (title and messages), not counting HTML markup.
    public var maxLength: Int
    public var format: Format
    public var includeSystemMessages: Bool

    public init(maxLength: Int = 280, format: Format = .text, includeSystemMessages: Bool = false) {
        self.maxLength = maxLength
        self.format = format
        self.includeSystemMessages = includeSystemMessages
    }
}

/// The transform stage's output (SPEC §7.2 "transformed"): the plaintext model, its
/// canonical bytes, the transformation names for the bundle metadata and a preview. The
/// caller hashes `canonicalJSON` (contentHash, deduplication) and encrypts it.
public struct TransformedContent: Sendable, Equatable {
    public var content: SharedContent
    public var canonicalJSON: Data
    public var size: Int { canonicalJSON.count }
    /// The transformations this stage applied, in order: `anonymizeUserMessages`,
    /// `anonymizeAIMessages`, `watermark`, `attribution`, `notes`.
    public var transformations: [String]
    /// The names of the filters that ran before (`FilteredContent.appliedFilters`).
    public var filters: [String]
    /// What the bundle's `metadata.transformations` lists: `filters` then `transformations`.
    public var metadataTransformations: [String] { filters + transformations }
    public var preview: String
    public var report: StageReport
}

/// The transform stage (SPEC §7.1 stage 3). Pure and deterministic for given inputs.
public struct TransformStage: Sendable {
    public init() {}

    public func run(_ filtered: FilteredContent, options: TransformOptions) throws -> TransformedContent {
        let clock = ContinuousClock()
        let started = clock.now
        let flags = options.transformations
        var names: [String] = []
        var messages = filtered.messages

        if flags.anonymizeUserMessages {
            names.append("anonymizeUserMessages")
            anonymizeUsers(&messages, options.userAnonymization)
        }
        if flags.anonymizeAIMessages {
            names.append("anonymizeAIMessages")
            for m in messages.indices where messages[m].role == .assistant {
                messages[m].author = options.aiAnonymization.keepModelName ? (filtered.model ?? messages[m].author ?? "Assistant") : "Assistant"
            }
        }

        var content = SharedContent(
            type: filtered.type, title: filtered.title,
            messages: messages.map { SharedMessage(role: $0.role, author: $0.author, content: SharedMessageContent($0.parts), createdAt: $0.createdAt) },
            acus: filtered.acus.isEmpty ? nil : filtered.acus.map(SharedACU.init))

        if let watermark = flags.addWatermark {
            names.append("watermark")
            let opacity = watermark.opacity.isFinite ? min(1, max(0, watermark.opacity)) : Watermark().opacity
            content.watermark = SharedWatermark(text: watermark.text ?? "Shared via VIVIM", position: watermark.position,
                                                opacity: opacity, timestamp: watermark.includeTimestamp ? options.now : nil)
        }
        if let attribution = flags.addAttribution {
            names.append("attribution")
            let hideSource = flags.anonymizeAIMessages && !options.aiAnonymization.keepModelName
            content.attribution = SharedAttribution(
                author: attribution.showAuthor ? options.author : nil,
                date: attribution.showDate ? (filtered.createdAt ?? options.now) : nil,
                source: attribution.showSource && !hideSource ? filtered.sourceURL : nil,
                text: attribution.customText)
        }
        if flags.addNotes, !options.notes.isEmpty {
            names.append("notes")
            content.notes = options.notes
        }

        let json = try content.canonicalJSON()
        let preview = PreviewRenderer.render(content, options.preview)
        var counters: [String: Int] = [:]
        for name in names { counters["applied.\(name)"] = 1 }
        let report = StageReport(stage: "transform", inputBytes: filtered.filteredSize, outputBytes: json.count,
                                 messagesIn: filtered.messages.count, messagesOut: content.messages.count,
                                 counters: counters, elapsed: clock.now - started)
        return TransformedContent(content: content, canonicalJSON: json, transformations: names, filters: filtered.appliedFilters.map(\.name),
                                  preview: preview, report: report)
    }

    /// Pseudonyms in order of first appearance; messages without an author share one.
    private func anonymizeUsers(_ messages: inout [RawMessage], _ options: UserAnonymization) {
        var pseudonyms: [String: String] = [:]
        for m in messages.indices where messages[m].role == .user {
            let key = messages[m].author ?? ""
            let pseudonym = pseudonyms[key] ?? "User \(pseudonyms.count + 1)"
            pseudonyms[key] = pseudonym
            messages[m].author = pseudonym
            let length = messages[m].parts.map(\.plainText).joined(separator: "\n\n").count
            messages[m].parts = [.text(options.keepLength ? String(repeating: "•", count: length) : options.replacementText)]
        }
    }
}
