import Foundation
import Testing
import VivimCore
@testable import VivimPipeline

@Suite struct FilterStageTests {
    @Test func fullScopeWithNoFlagsKeepsEverything() {
        let raw = SampleContent.conversation()
        let filtered = SampleContent.filter(raw)
        #expect(filtered.messages == raw.messages)
        #expect(filtered.appliedFilters.isEmpty)
        #expect(filtered.originalSize == filtered.filteredSize)
        #expect(filtered.itemsRemoved == 0)
    }

    @Test func removeSystemMessagesLeavesNoSystemMessage() {
        let filtered = SampleContent.filter { $0.removeSystemMessages = true }
        #expect(!filtered.messages.contains { $0.role == .system })
        #expect(filtered.appliedFilters.map(\.name) == ["removeSystemMessages"])
        #expect(filtered.appliedFilters[0].itemsRemoved == 1)
        #expect(filtered.appliedFilters[0].bytesRemoved == "You are a helpful travel assistant.".utf8.count)
        #expect(filtered.filteredSize == filtered.originalSize - filtered.appliedFilters[0].bytesRemoved)
    }

    @Test func removeToolCallsDropsToolPartsAndToolMessages() {
        let filtered = SampleContent.filter { $0.removeToolCalls = true }
        #expect(!filtered.messages.contains { $0.role == .tool })
        #expect(!filtered.messages.flatMap(\.parts).contains { $0.isTool })
        // One tool message, one tool_call part.
        #expect(filtered.appliedFilters[0].itemsRemoved == 2)
        #expect(filtered.messages.first { $0.index == 2 }?.parts.count == 2)
    }

    @Test func removeImagesDropsImagePartsAndMessagesLeftEmpty() {
        let filtered = SampleContent.filter { $0.removeImages = true }
        #expect(!filtered.messages.flatMap(\.parts).contains { $0.isImage })
        // Message 6 held only an image: it is dropped, not left empty.
        #expect(!filtered.messages.contains { $0.index == 6 })
        #expect(filtered.messages.allSatisfy { !$0.parts.isEmpty })
        // Two image parts and the emptied message.
        #expect(filtered.appliedFilters[0].itemsRemoved == 3)
    }

    @Test func redactPersonalInfoLeavesNoPersonalInformation() {
        let filtered = SampleContent.filter { $0.redactPersonalInfo = true }
        let text = SampleContent.allText(filtered)
        #expect(PIIRedactor().matches(in: text).isEmpty)
        #expect(!text.contains("jane.doe@example.com"))
        #expect(!text.contains("7946"))
        #expect(!text.contains("4111"))
        #expect(text.contains("[EMAIL]") && text.contains("[PHONE]") && text.contains("[CREDIT_CARD]"))
        let report = filtered.appliedFilters[0]
        #expect(report.name == "redactPersonalInfo")
        #expect(report.redactions == ["EMAIL": 2, "PHONE": 1, "CREDIT_CARD": 1])
        #expect(report.itemsRemoved == 4)
        #expect(filtered.report.counters["pii.EMAIL"] == 2)
    }

    @Test func redactionCoversTheTitle() {
        let filtered = SampleContent.filter { $0.redactPersonalInfo = true }
        #expect(filtered.title == "Trip planning with [EMAIL]")
    }

    @Test func partialScopeKeepsOnlyIncludedACUs() {
        let filtered = SampleContent.filter(scope: .partial, include: ["acu-2", "acu-7"])
        #expect(filtered.messages.map(\.index) == [2, 5])
        #expect(filtered.messages[0].parts == [.text("Here is a plan for Lisbon.")])
        #expect(filtered.appliedFilters[0].name == "scope:PARTIAL")
        #expect(filtered.appliedFilters[0].itemsRemoved == 7 + 5)  // 7 ACUs, then 5 emptied messages
    }

    @Test func partialScopeDropsExcludedACUs() {
        let filtered = SampleContent.filter(scope: .partial, exclude: ["acu-3", "acu-6"])
        let parts = filtered.messages.flatMap(\.parts)
        #expect(!parts.contains { $0.isTool && $0.plainText.contains("search_hotels") && $0.plainText.contains("Lisbon") })
        #expect(!SampleContent.allText(filtered).contains("4111"))
        #expect(!filtered.messages.contains { $0.index == 4 })
        #expect(filtered.messages.contains { $0.index == 3 })
    }

    @Test func partialScopeAppliesExcludeAfterInclude() {
        let filtered = SampleContent.filter(scope: .partial, include: ["acu-1", "acu-2"], exclude: ["acu-1"])
        #expect(filtered.messages.map(\.index) == [2])
    }

    @Test func partialScopeOnStandaloneACUs() {
        var raw = SampleContent.conversation()
        raw.type = .acu
        raw.messages = []
        let filtered = SampleContent.filter(raw, scope: .partial, include: ["acu-2", "acu-4"])
        #expect(filtered.acus.map(\.id) == ["acu-2", "acu-4"])
    }

    @Test func summaryIsBoundedAndExtractive() {
        let raw = SampleContent.long()
        let filtered = SampleContent.filter(raw, scope: .summary)
        let characters = filtered.messages.flatMap(\.parts).reduce(0) { $0 + $1.plainText.count }
        #expect(characters <= FilterStage.summaryLimit)
        #expect(characters > FilterStage.summaryLimit / 2)
        #expect(filtered.messages.allSatisfy { $0.parts.count == 1 && $0.parts[0].plainText.count <= FilterStage.summaryPerMessage })
        #expect(filtered.messages[0].parts[0].plainText.hasPrefix("This sentence is part of a long discussion"))
        #expect(filtered.filteredSize < filtered.originalSize)
        #expect(filtered.appliedFilters.last?.name == "scope:SUMMARY")
    }

    @Test func previewIsBoundedTighterThanSummary() {
        let filtered = SampleContent.filter(SampleContent.long(), scope: .preview)
        let characters = filtered.messages.flatMap(\.parts).reduce(0) { $0 + $1.plainText.count }
        #expect(characters <= FilterStage.previewLimit)
        #expect(filtered.messages.count >= 2)
    }

    @Test func summaryIsCutFromRedactedText() {
        let filtered = SampleContent.filter(scope: .summary) { $0.redactPersonalInfo = true }
        #expect(PIIRedactor().matches(in: SampleContent.allText(filtered)).isEmpty)
    }

    @Test func filtersComposeAndReportInOrder() {
        let filtered = SampleContent.filter {
            $0.removeSystemMessages = true
            $0.removeToolCalls = true
            $0.removeImages = true
            $0.redactPersonalInfo = true
        }
        #expect(filtered.appliedFilters.map(\.name) == ["removeSystemMessages", "removeToolCalls", "removeImages", "redactPersonalInfo"])
        #expect(filtered.messages.map(\.index) == [1, 2, 4, 5])
        #expect(filtered.itemsRemoved == filtered.appliedFilters.dropLast().reduce(0) { $0 + $1.itemsRemoved })
        #expect(filtered.report.messagesIn == 7)
        #expect(filtered.report.messagesOut == 4)
    }

    @Test func emptyContentPassesThrough() {
        let raw = RawContent(type: .conversation, title: "", messages: [])
        let filtered = SampleContent.filter(raw, scope: .summary) {
            $0.redactPersonalInfo = true
            $0.removeSystemMessages = true
        }
        #expect(filtered.messages.isEmpty)
        #expect(filtered.filteredSize == 0)
    }

    @Test func intentContentDrivesTheScope() {
        let ids = [ACUID(), ACUID()]
        var raw = SampleContent.conversation()
        raw.acus[2].id = ids[0].rawValue
        let filtered = FilterStage().run(raw, content: IntentContent(type: .conversation, ids: [ContentID()], scope: .partial, includeACUs: [ids[0]]),
                                         transformations: nil)
        #expect(filtered.messages.map(\.index) == [2])
    }
}
