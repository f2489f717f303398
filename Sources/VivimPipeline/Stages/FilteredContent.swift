import Foundation
import VivimCore

/// Raw content after the filter stage (SPEC §7.2 "filtered"): scope applied, unwanted
/// messages and parts removed, personal information redacted, plus what each filter did.
public struct FilteredContent: Sendable, Equatable {
    public var type: ContentType
    public var title: String
    public var provider: String?
    public var sourceURL: String?
    public var model: String?
    public var createdAt: Date?
    public var scope: ContentScope
    /// Remaining messages, in order, none empty; `index` is the original position.
    public var messages: [RawMessage]
    /// ACUs that stand alone (content with no messages, such as a shared ACU). Empty when
    /// the content has messages: their text is in `messages`.
    public var acus: [RawACU]
    /// Every filter that ran, in order, with what it removed.
    public var appliedFilters: [AppliedFilter]
    /// `RawContent.byteSize` before and after.
    public var originalSize: Int
    public var filteredSize: Int
    /// Messages, parts and ACUs removed, over all filters.
    public var itemsRemoved: Int
    public var report: StageReport

    /// The same size measure as `RawContent.byteSize`.
    static func size(title: String, messages: [RawMessage], acus: [RawACU]) -> Int {
        RawContent(type: .conversation, title: title, messages: messages, acus: acus).byteSize
    }
}

/// One filter's effect (SPEC §7.1 stage 2: "report every applied filter and how much it removed").
public struct AppliedFilter: Sendable, Equatable, Codable {
    /// `scope:PARTIAL`, `scope:SUMMARY`, `scope:PREVIEW`, `removeSystemMessages`,
    /// `removeToolCalls`, `removeImages` or `redactPersonalInfo`.
    public var name: String
    /// Messages, parts, ACUs removed; for `redactPersonalInfo`, the number of redactions.
    public var itemsRemoved: Int
    /// UTF-8 bytes removed (for redaction: bytes of personal information replaced).
    public var bytesRemoved: Int
    /// Redactions per PII kind (`EMAIL`, `PHONE`, …); empty for other filters.
    public var redactions: [String: Int]

    public init(name: String, itemsRemoved: Int, bytesRemoved: Int, redactions: [String: Int] = [:]) {
        self.name = name
        self.itemsRemoved = itemsRemoved
        self.bytesRemoved = bytesRemoved
        self.redactions = redactions
    }
}
