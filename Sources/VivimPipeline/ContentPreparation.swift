import Foundation
import VivimCore
import VivimStore

/// What the filter and transform stages produce for the encrypt stage.
public struct PreparedContent: Sendable {
    /// The canonical UTF-8 JSON of the transformed content (SPEC §7.2), the bundle's plaintext.
    public var plaintext: [UInt8]
    public var title: String
    public var transformations: [String]
    public var preview: String
    public var appliedFilters: [AppliedFilter]
}

/// Input → filter → transform for one intent (SPEC §7.1). Several conversations in one intent
/// become one bundle: their messages in the intent's order, titled by the intent's title or the
/// first conversation's. Notes (`addNotes`) come from the intent's description.
public enum ContentPreparation {
    public static func raw(_ loaded: [LoadedConversation], type: ContentType, title: String?) -> RawContent {
        var messages: [RawMessage] = []
        var acus: [RawACU] = []
        for item in loaded {
            let offset = messages.count
            var indexByMessage: [String: Int] = [:]
            for message in item.messages {
                indexByMessage[message.id.rawValue] = offset + message.index
                messages.append(RawMessage(index: offset + message.index, role: message.role, author: message.author,
                                           parts: message.parts, createdAt: message.createdAt))
            }
            for acu in item.acus {
                guard let index = indexByMessage[acu.messageID.rawValue] else { continue }
                acus.append(RawACU(id: acu.id.rawValue, messageIndex: index, index: acu.index, type: acu.type, content: acu.content,
                                   language: acu.language))
            }
        }
        let first = loaded.first?.conversation
        return RawContent(type: type, title: title ?? first?.title ?? "Untitled", provider: first?.provider, sourceURL: first?.sourceURL,
                          model: first?.model, createdAt: first?.createdAt, messages: messages, acus: acus)
    }

    public static func prepare(_ loaded: [LoadedConversation], spec: IntentSpec, ownerDid: DID, now: Date) throws -> PreparedContent {
        let raw = raw(loaded, type: spec.content.type, title: spec.metadata.title)
        let filtered = FilterStage().run(raw, content: spec.content, transformations: spec.transformations)
        let notes = spec.transformations?.addNotes == true ? [spec.metadata.description].compactMap { $0 } : []
        let options = TransformOptions(transformations: spec.transformations ?? Transformations(), notes: notes, now: now,
                                       author: ContentAuthor(did: ownerDid.description))
        let transformed = try TransformStage().run(filtered, options: options)
        return PreparedContent(plaintext: Array(transformed.canonicalJSON), title: transformed.content.title,
                               transformations: filtered.appliedFilters.map(\.name) + transformed.transformations,
                               preview: transformed.preview, appliedFilters: filtered.appliedFilters)
    }
}
