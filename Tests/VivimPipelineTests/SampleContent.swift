import Foundation
import VivimCore
@testable import VivimPipeline

/// A small conversation with one of everything the filters act on.
enum SampleContent {
    static let created = Date(timeIntervalSince1970: 1_790_000_000)

    static func conversation() -> RawContent {
        RawContent(
            type: .conversation, title: "Trip planning with jane.doe@example.com",
            provider: "openai", sourceURL: "https://chat.openai.com/share/abc", model: "gpt-4o", createdAt: created,
            messages: [
                RawMessage(index: 0, role: .system, parts: [.text("You are a helpful travel assistant.")]),
                RawMessage(index: 1, role: .user, author: "Jane", parts: [.text("Hi, I'm Jane. Call me on +44 20 7946 0958 or email jane.doe@example.com.")],
                           createdAt: created),
                RawMessage(index: 2, role: .assistant, parts: [
                    .text("Here is a plan for Lisbon."),
                    .toolCall(name: "search_hotels", arguments: "{\"city\": \"Lisbon\"}"),
                    .image(ref: "https://img.example.com/map.png", alt: "map"),
                ]),
                RawMessage(index: 3, role: .tool, parts: [.toolResult(name: "search_hotels", content: "[{\"name\": \"Hotel A\"}]")]),
                RawMessage(index: 4, role: .user, author: "Jane", parts: [.text("Book it with card 4111 1111 1111 1111 please.")]),
                RawMessage(index: 5, role: .user, author: "Bob", parts: [.text("I'm Bob, joining the trip.")]),
                RawMessage(index: 6, role: .assistant, parts: [.image(ref: "https://img.example.com/only.png", alt: nil)]),
            ],
            acus: [
                RawACU(id: "acu-0", messageIndex: 0, index: 0, type: .paragraph, content: "You are a helpful travel assistant."),
                RawACU(id: "acu-1", messageIndex: 1, index: 0, type: .paragraph, content: "Hi, I'm Jane. Call me on +44 20 7946 0958 or email jane.doe@example.com."),
                RawACU(id: "acu-2", messageIndex: 2, index: 0, type: .paragraph, content: "Here is a plan for Lisbon."),
                RawACU(id: "acu-3", messageIndex: 2, index: 1, type: .toolCall, content: "search_hotels({\"city\": \"Lisbon\"})"),
                RawACU(id: "acu-4", messageIndex: 2, index: 2, type: .image, content: "https://img.example.com/map.png"),
                RawACU(id: "acu-5", messageIndex: 3, index: 0, type: .toolResult, content: "[{\"name\": \"Hotel A\"}]"),
                RawACU(id: "acu-6", messageIndex: 4, index: 0, type: .paragraph, content: "Book it with card 4111 1111 1111 1111 please."),
                RawACU(id: "acu-7", messageIndex: 5, index: 0, type: .paragraph, content: "I'm Bob, joining the trip."),
                RawACU(id: "acu-8", messageIndex: 6, index: 0, type: .image, content: "https://img.example.com/only.png"),
            ])
    }

    /// A long conversation for the bounded scopes.
    static func long(messages: Int = 40) -> RawContent {
        let sentence = "This sentence is part of a long discussion about distributed systems and consensus. "
        return RawContent(type: .conversation, title: "Long", messages: (0..<messages).map { index in
            RawMessage(index: index, role: index % 2 == 0 ? .user : .assistant,
                       parts: [.text(String(repeating: sentence, count: 12)), .code(language: "swift", code: "let x = \(index)")])
        })
    }

    static func filter(_ raw: RawContent = conversation(), scope: ContentScope = .full, include: [String]? = nil, exclude: [String]? = nil,
                       _ configure: (inout Transformations) -> Void = { _ in }) -> FilteredContent {
        var transformations = Transformations()
        configure(&transformations)
        return FilterStage().run(raw, scope: scope, includeACUs: include, excludeACUs: exclude, transformations: transformations)
    }

    static func allText(_ content: FilteredContent) -> String {
        ([content.title] + content.messages.flatMap { message in [message.author ?? ""] + message.parts.map(\.plainText) }
            + content.acus.map(\.content)).joined(separator: "\n")
    }
}
