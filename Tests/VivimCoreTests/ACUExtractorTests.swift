import Foundation
import Testing
import VivimCore

@Suite struct ACUExtractorTests {
    @Test func markdownIsCutIntoTypedUnits() {
        let text = """
            # Plan

            First paragraph
            still the first.

            - one
            - two

            1. first
            2. second

            ```python
            print("hi")

            print("still code")
            ```

            | a | b |
            |---|:-:|
            | 1 | 2 |

            > quoted
            > more
            """
        let (acus, counts) = ACUExtractor.extract([MessageInput(role: .assistant, parts: [.text(text)])])
        #expect(acus.map(\.type) == [.heading, .paragraph, .list, .list, .code, .table, .quote])
        #expect(acus[4].language == "python")
        #expect(acus[4].content == "print(\"hi\")\n\nprint(\"still code\")")
        #expect(acus.map(\.index) == Array(0..<7))
        #expect(counts.codeBlockCount == 1)
        #expect(counts.messageCount == 1)
    }

    @Test func partsCountAndBecomeUnits() {
        let messages = [
            MessageInput(role: .user, parts: [.text("hello brave  new\nworld")]),
            MessageInput(role: .assistant, parts: [.code(language: "swift", code: "let x = 1"), .image(ref: "img://1", alt: nil),
                                                   .toolCall(name: "search", arguments: "{}"), .toolResult(name: "search", content: "found")]),
        ]
        let (acus, counts) = ACUExtractor.extract(messages)
        #expect(counts.wordCount == 4)
        #expect(counts.codeBlockCount == 1)
        #expect(counts.imageCount == 1)
        #expect(counts.toolCallCount == 1)
        #expect(acus.map(\.type) == [.paragraph, .code, .image, .toolCall, .toolResult])
        #expect(acus.map(\.messageIndex) == [0, 1, 1, 1, 1])
        #expect(acus.map(\.type.category) == ["text", "code", "media", "tool", "tool"])
    }

    @Test func anUnclosedFenceRunsToTheEnd() {
        let (acus, _) = ACUExtractor.extract([MessageInput(role: .assistant, parts: [.text("intro\n\n```\ncode\nmore")])])
        #expect(acus.map(\.type) == [.paragraph, .code])
        #expect(acus[1].content == "code\nmore")
        #expect(acus[1].language == nil)
    }

    @Test func pipesWithoutADelimiterRowAreAParagraph() {
        let (acus, _) = ACUExtractor.extract([MessageInput(role: .user, parts: [.text("a | b\nc | d")])])
        #expect(acus.map(\.type) == [.paragraph])
    }
}

@Suite struct ContentPartCodingTests {
    @Test func everyKindOfPartRoundTripsThroughItsJSONForm() throws {
        let parts: [ContentPart] = [
            .text("hello"), .code(language: "swift", code: "let x = 1"), .code(language: nil, code: "raw"),
            .image(ref: "https://img/1.png", alt: "one"), .image(ref: "img://2", alt: nil),
            .toolCall(name: "search", arguments: "{\"q\":1}"), .toolResult(name: "search", content: "found"), .toolResult(name: nil, content: ""),
        ]
        let data = try JSONEncoder().encode(parts)
        #expect(try JSONDecoder().decode([ContentPart].self, from: data) == parts)
        let json = String(decoding: try JSONEncoder().encode(ContentPart.image(ref: "u", alt: nil)), as: UTF8.self)
        #expect(json.contains("\"type\":\"image\"") && json.contains("\"url\":\"u\""))
    }

    @Test func anUnknownPartTypeIsADecodingError() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ContentPart.self, from: Data(#"{"type":"video"}"#.utf8)) }
    }
}
