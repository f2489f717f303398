/// Cuts messages into atomic chat units (ACUs) and counts what a conversation holds.
///
/// Text parts are read as Markdown blocks: fenced code (with its info-string language),
/// headings, lists, tables (a header row followed by a `|---|` delimiter row), block
/// quotes and paragraphs, separated by blank lines. Code, image and tool parts are one
/// ACU each.
public enum ACUExtractor {
    public static func extract(_ messages: [MessageInput]) -> (acus: [DerivedACU], counts: ConversationCounts) {
        var acus: [DerivedACU] = []
        var counts = ConversationCounts()
        counts.messageCount = messages.count
        for (messageIndex, message) in messages.enumerated() {
            var index = 0
            func add(_ type: ACUType, _ content: String, language: String? = nil) {
                acus.append(DerivedACU(messageIndex: messageIndex, index: index, type: type, content: content, language: language))
                index += 1
            }
            for part in message.parts {
                switch part {
                case .text(let text):
                    counts.characterCount += text.count
                    counts.wordCount += wordCount(text)
                    for block in blocks(of: text) {
                        if block.type == .code { counts.codeBlockCount += 1 }
                        add(block.type, block.content, language: block.language)
                    }
                case .code(let language, let code):
                    counts.characterCount += code.count
                    counts.codeBlockCount += 1
                    add(.code, code, language: language)
                case .image(let ref, _):
                    counts.imageCount += 1
                    add(.image, ref)
                case .toolCall(let name, let arguments):
                    counts.toolCallCount += 1
                    add(.toolCall, "\(name)(\(arguments))")
                case .toolResult(_, let content):
                    counts.characterCount += content.count
                    add(.toolResult, content)
                }
            }
        }
        return (acus, counts)
    }

    static func wordCount(_ text: String) -> Int {
        var count = 0
        var inWord = false
        for scalar in text.unicodeScalars {
            let isSpace = scalar.properties.isWhitespace
            if !isSpace && !inWord { count += 1 }
            inWord = !isSpace
        }
        return count
    }

    struct Block: Equatable {
        var type: ACUType
        var content: String
        var language: String?
    }

    /// Splits Markdown text into blocks.
    static func blocks(of text: String) -> [Block] {
        var result: [Block] = []
        var pending: [Substring] = []
        var fence: (marker: Substring, language: String?, lines: [Substring])?

        func flush() {
            defer { pending.removeAll() }
            guard !pending.isEmpty else { return }
            result.append(contentsOf: classify(pending))
        }

        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop(while: { $0 == " " })
            if var open = fence {
                if trimmed.hasPrefix(open.marker), trimmed.drop(while: { $0 == open.marker.first }).allSatisfy(\.isWhitespace) {
                    result.append(Block(type: .code, content: open.lines.joined(separator: "\n"), language: open.language))
                    fence = nil
                } else {
                    open.lines.append(line)
                    fence = open
                }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                flush()
                let marker = trimmed.prefix(while: { $0 == trimmed.first })
                let info = trimmed.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)
                let language = info.split(separator: " ").first.map { String($0).lowercased() }
                fence = (marker, language, [])
                continue
            }
            if trimmed.allSatisfy(\.isWhitespace) {
                flush()
            } else {
                pending.append(line)
            }
        }
        if let open = fence {  // an unclosed fence runs to the end of the text
            result.append(Block(type: .code, content: open.lines.joined(separator: "\n"), language: open.language))
        }
        flush()
        return result
    }

    /// Classifies a run of non-blank lines; a heading line splits off on its own.
    static func classify(_ lines: [Substring]) -> [Block] {
        var blocks: [Block] = []
        var rest: [Substring] = []
        func flushRest() {
            guard !rest.isEmpty else { return }
            blocks.append(Block(type: type(of: rest), content: rest.joined(separator: "\n")))
            rest.removeAll()
        }
        for line in lines {
            let trimmed = line.drop(while: { $0 == " " })
            if trimmed.hasPrefix("#"), trimmed.drop(while: { $0 == "#" }).first == " ", trimmed.prefix(while: { $0 == "#" }).count <= 6 {
                flushRest()
                blocks.append(Block(type: .heading, content: String(trimmed)))
            } else {
                rest.append(line)
            }
        }
        flushRest()
        return blocks
    }

    static func type(of lines: [Substring]) -> ACUType {
        let trimmed = lines.map { $0.drop(while: { $0 == " " }) }
        if trimmed.allSatisfy({ $0.hasPrefix(">") }) { return .quote }
        if trimmed.count >= 2, trimmed[0].hasPrefix("|") || trimmed[0].contains("|"), isTableDelimiter(trimmed[1]) {
            return .table
        }
        if let first = trimmed.first, isListItem(first) { return .list }
        return .paragraph
    }

    static func isListItem(_ line: Substring) -> Bool {
        if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("+ ") { return true }
        let digits = line.prefix(while: \.isNumber)
        guard !digits.isEmpty, digits.count <= 9 else { return false }
        let after = line.dropFirst(digits.count)
        return after.hasPrefix(". ") || after.hasPrefix(") ")
    }

    static func isTableDelimiter(_ line: Substring) -> Bool {
        let cells = line.split(separator: "|", omittingEmptySubsequences: true)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        return !cells.isEmpty && cells.allSatisfy { cell in
            cell.contains("-") && cell.allSatisfy { $0 == "-" || $0 == ":" }
        }
    }
}

import Foundation
