import Foundation
import VivimCore

/// The short preview of shared content (SPEC §7.1 stage 3, shown by share links, §6): the
/// title then "Speaker: text" lines, at most `maxLength` visible characters, as plain text
/// or as HTML with every piece of content escaped.
enum PreviewRenderer {
    static func render(_ content: SharedContent, _ options: PreviewOptions) -> String {
        var budget = max(0, options.maxLength)
        func take(_ text: String) -> String? {
            guard budget > 0 else { return nil }
            let flat = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
            let cut = Excerpt.truncate(flat, maxCharacters: budget)
            budget -= cut.count
            return cut
        }

        let title = take(content.title) ?? ""
        var lines: [(speaker: String, role: MessageRole, text: String)] = []
        for message in content.messages where options.includeSystemMessages || message.role != .system {
            let speaker = message.author ?? label(message.role)
            // The speaker label counts against the budget, as it is visible text.
            guard budget > speaker.count + 2 else { break }
            budget -= speaker.count + 2
            guard let text = take(message.plainText) else { break }
            lines.append((speaker, message.role, text))
        }

        switch options.format {
        case .text:
            return ([title] + lines.map { "\($0.speaker): \($0.text)" }).filter { !$0.isEmpty }.joined(separator: "\n")
        case .html:
            var html = "<div class=\"vivim-preview\">"
            if !title.isEmpty { html += "<h1>\(escapeHTML(title))</h1>" }
            for line in lines {
                html += "<p class=\"message \(line.role.rawValue)\"><strong>\(escapeHTML(line.speaker)):</strong> \(escapeHTML(line.text))</p>"
            }
            return html + "</div>"
        }
    }

    static func label(_ role: MessageRole) -> String {
        switch role {
        case .user: "User"
        case .assistant: "Assistant"
        case .system: "System"
        case .tool: "Tool"
        }
    }

    /// Escapes the five characters that matter in HTML text and attribute values.
    static func escapeHTML(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
