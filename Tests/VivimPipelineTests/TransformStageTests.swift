import Foundation
import Testing
import VivimCore
@testable import VivimPipeline

@Suite struct TransformStageTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let owner = ContentAuthor(did: "did:vivim:z6MkoLaLkgTZaeQHREWiJp6QnEB16wyrRWm9X9q5Htjb3pBP", name: "Jane")

    func transform(_ filtered: FilteredContent = SampleContent.filter(), notes: [String] = [],
                   user: UserAnonymization = UserAnonymization(), ai: AIAnonymization = AIAnonymization(),
                   preview: PreviewOptions = PreviewOptions(), _ configure: (inout Transformations) -> Void = { _ in }) throws -> TransformedContent {
        var transformations = Transformations()
        configure(&transformations)
        return try TransformStage().run(filtered, options: TransformOptions(
            transformations: transformations, notes: notes, now: Self.now, author: Self.owner,
            userAnonymization: user, aiAnonymization: ai, preview: preview))
    }

    func json(_ transformed: TransformedContent) -> String { String(decoding: transformed.canonicalJSON, as: UTF8.self) }

    @Test func plaintextHasTheBundleShape() throws {
        let transformed = try transform()
        let object = try JSONSerialization.jsonObject(with: transformed.canonicalJSON) as! [String: Any]
        #expect(Set(object.keys) == ["type", "title", "messages"])
        #expect(object["type"] as? String == "conversation")
        let messages = object["messages"] as! [[String: Any]]
        #expect(messages.count == 7)
        #expect(messages[0]["content"] as? String == "You are a helpful travel assistant.")
        #expect(messages[0]["author"] == nil)
        #expect(messages[1]["author"] as? String == "Jane")
        #expect(messages[1]["createdAt"] as? String == "2026-09-21T14:13:20Z")
        // Several parts: the array of parts in their usual JSON form.
        let parts = messages[2]["content"] as! [[String: Any]]
        #expect(parts.map { $0["type"] as? String } == ["text", "tool_call", "image"])
        #expect(parts[2]["url"] as? String == "https://img.example.com/map.png")
    }

    @Test func canonicalEncodingIsDeterministicAndSorted() throws {
        let first = try transform { $0.addWatermark = Watermark(includeTimestamp: true); $0.addAttribution = Attribution() }
        let second = try transform { $0.addWatermark = Watermark(includeTimestamp: true); $0.addAttribution = Attribution() }
        #expect(first.canonicalJSON == second.canonicalJSON)
        let text = json(first)
        #expect(text.hasPrefix("{\"attribution\":{\"author\":{\"did\":"))
        #expect(text.contains("https://chat.openai.com/share/abc"))  // slashes not escaped
        #expect(!text.contains(" : ") && !text.contains("\n"))
        let decoded = try SharedContent.decode(canonicalJSON: first.canonicalJSON)
        #expect(decoded == first.content)
        #expect(try decoded.canonicalJSON() == first.canonicalJSON)
    }

    @Test func differentContentGivesDifferentBytes() throws {
        var filtered = SampleContent.filter()
        let before = try transform(filtered).canonicalJSON
        filtered.messages[1].parts = [.text("Hi, I'm Jane!")]
        #expect(try transform(filtered).canonicalJSON != before)
    }

    @Test func watermarkIsPresentWithTimestampFromNow() throws {
        let transformed = try transform { $0.addWatermark = Watermark(text: "Confidential", position: .topLeft, opacity: 0.5, includeTimestamp: true) }
        #expect(transformed.content.watermark == SharedWatermark(text: "Confidential", position: .topLeft, opacity: 0.5, timestamp: Self.now))
        #expect(json(transformed).contains("\"watermark\":{\"opacity\":0.5,\"position\":\"TOP_LEFT\",\"text\":\"Confidential\",\"timestamp\":\"2027-01-15T08:00:00Z\"}"))
        #expect(transformed.transformations == ["watermark"])
    }

    @Test func watermarkDefaultsAndClampsOpacity() throws {
        let transformed = try transform { $0.addWatermark = Watermark(opacity: 7) }
        #expect(transformed.content.watermark == SharedWatermark(text: "Shared via VIVIM", position: .bottomRight, opacity: 1, timestamp: nil))
    }

    @Test func attributionShowsAuthorDateSourceAndCustomText() throws {
        let transformed = try transform { $0.addAttribution = Attribution(customText: "Shared for the book club") }
        #expect(transformed.content.attribution == SharedAttribution(author: Self.owner, date: SampleContent.created,
                                                                     source: "https://chat.openai.com/share/abc", text: "Shared for the book club"))
        #expect(transformed.transformations == ["attribution"])
    }

    @Test func attributionShowsOnlyWhatIsAskedFor() throws {
        let transformed = try transform { $0.addAttribution = Attribution(showAuthor: false, showDate: true, showSource: false) }
        #expect(transformed.content.attribution == SharedAttribution(date: SampleContent.created))
    }

    @Test func notesAreAddedWhenRequested() throws {
        #expect(try transform(notes: ["Read the last answer first."]).content.notes == nil)
        let transformed = try transform(notes: ["Read the last answer first."]) { $0.addNotes = true }
        #expect(transformed.content.notes == ["Read the last answer first."])
        #expect(transformed.transformations == ["notes"])
    }

    @Test func anonymizedUsersGetConsistentPseudonymsAndHiddenContent() throws {
        let transformed = try transform { $0.anonymizeUserMessages = true }
        let users = transformed.content.messages.filter { $0.role == .user }
        #expect(users.map(\.author) == ["User 1", "User 1", "User 2"])
        #expect(users.allSatisfy { $0.content == .text("[message hidden]") })
        #expect(!json(transformed).contains("Jane\"") && !json(transformed).contains("Bob"))
        #expect(transformed.transformations == ["anonymizeUserMessages"])
    }

    @Test func anonymizedUsersCanKeepLengthAndUseCustomText() throws {
        let kept = try transform(user: UserAnonymization(keepLength: true)) { $0.anonymizeUserMessages = true }
        let original = "I'm Bob, joining the trip."
        #expect(kept.content.messages[5].content == .text(String(repeating: "•", count: original.count)))
        let custom = try transform(user: UserAnonymization(replacementText: "(redacted)")) { $0.anonymizeUserMessages = true }
        #expect(custom.content.messages[5].content == .text("(redacted)"))
    }

    @Test func anonymizedAIMessagesHideTheModelButKeepContent() throws {
        let transformed = try transform { $0.anonymizeAIMessages = true; $0.addAttribution = Attribution() }
        let assistant = transformed.content.messages.filter { $0.role == .assistant }
        #expect(assistant.allSatisfy { $0.author == "Assistant" })
        #expect(assistant[0].plainText.contains("Here is a plan for Lisbon."))
        #expect(transformed.content.attribution?.source == nil)
        #expect(!json(transformed).contains("openai"))
    }

    @Test func anonymizedAIMessagesCanKeepTheModelName() throws {
        let transformed = try transform(ai: AIAnonymization(keepModelName: true)) { $0.anonymizeAIMessages = true; $0.addAttribution = Attribution() }
        #expect(transformed.content.messages.filter { $0.role == .assistant }.allSatisfy { $0.author == "gpt-4o" })
        #expect(transformed.content.attribution?.source == "https://chat.openai.com/share/abc")
    }

    @Test func previewIsBoundedAndLeavesSystemMessagesOutByDefault() throws {
        let transformed = try transform(preview: PreviewOptions(maxLength: 120))
        #expect(transformed.preview.count <= 120 + 20)  // budget counts visible text; newlines and ": " labels are within it
        #expect(transformed.preview.hasPrefix("Trip planning with jane.doe@example.com\nJane: Hi, I'm Jane."))
        #expect(!transformed.preview.contains("helpful travel assistant"))
        let withSystem = try transform(preview: PreviewOptions(maxLength: 400, includeSystemMessages: true))
        #expect(withSystem.preview.contains("System: You are a helpful travel assistant."))
    }

    @Test func htmlPreviewEscapesMarkupQuotesAndAmpersands() throws {
        var filtered = SampleContent.filter()
        filtered.title = "Tom & Jerry's <b>plan</b>"
        filtered.messages[1].parts = [.text("<script>alert(\"x\")</script> & 'more'")]
        let transformed = try transform(filtered, preview: PreviewOptions(maxLength: 500, format: .html))
        let html = transformed.preview
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<b>"))
        #expect(html.contains("<h1>Tom &amp; Jerry&#39;s &lt;b&gt;plan&lt;/b&gt;</h1>"))
        #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;"))
        #expect(html.hasPrefix("<div class=\"vivim-preview\">") && html.hasSuffix("</div>"))
    }

    @Test func previewUsesAnonymizedAuthorsAndContent() throws {
        let transformed = try transform(preview: PreviewOptions(maxLength: 400)) { $0.anonymizeUserMessages = true }
        #expect(transformed.preview.contains("User 1: [message hidden]"))
        #expect(!transformed.preview.contains("Jane:"))
    }

    @Test func metadataTransformationsListFiltersThenTransformsInOrder() throws {
        let filtered = SampleContent.filter(scope: .partial, include: ["acu-1", "acu-2"]) { $0.redactPersonalInfo = true; $0.removeSystemMessages = true }
        let transformed = try transform(filtered, notes: ["n"]) {
            $0.anonymizeUserMessages = true
            $0.anonymizeAIMessages = true
            $0.addWatermark = Watermark()
            $0.addAttribution = Attribution()
            $0.addNotes = true
        }
        #expect(transformed.filters == ["scope:PARTIAL", "removeSystemMessages", "redactPersonalInfo"])
        #expect(transformed.transformations == ["anonymizeUserMessages", "anonymizeAIMessages", "watermark", "attribution", "notes"])
        #expect(transformed.metadataTransformations == ["scope:PARTIAL", "removeSystemMessages", "redactPersonalInfo",
                                                        "anonymizeUserMessages", "anonymizeAIMessages", "watermark", "attribution", "notes"])
        #expect(transformed.report.outputBytes == transformed.size)
        #expect(transformed.report.counters["applied.watermark"] == 1)
    }

    @Test func standaloneACUsAreCarriedInTheAcusField() throws {
        var raw = SampleContent.conversation()
        raw.type = .acu
        raw.messages = []
        let transformed = try transform(SampleContent.filter(raw, scope: .partial, include: ["acu-2"]))
        #expect(transformed.content.acus?.map(\.content) == ["Here is a plan for Lisbon."])
        #expect(json(transformed).contains("\"type\":\"acu\""))
    }
}
