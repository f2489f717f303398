import Foundation
import Testing
@testable import VivimPipeline

/// Span-level precision and recall of `PIIRedactor` on the labelled corpus in
/// Fixtures/pii-corpus.jsonl (positive cases with exact spans, and look-alike negatives).
@Suite struct PIICorpusTests {
    struct Label: Decodable, Hashable {
        var type: String
        var start: Int
        var end: Int
        var value: String
    }

    struct Case: Decodable {
        var id: String
        var text: String
        var pii: [Label]
    }

    static func loadCorpus(_ name: String = "pii-corpus.jsonl") throws -> [Case] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
        let text = try String(contentsOf: url, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(Case.self, from: Data($0.utf8)) }
    }

    /// Detected matches as labels with Unicode-scalar offsets (the corpus's unit).
    static func detect(_ text: String) -> [Label] {
        var scalarAtByte: [Int: Int] = [:]
        var byte = 0
        for (index, scalar) in text.unicodeScalars.enumerated() {
            scalarAtByte[byte] = index
            byte += String(scalar).utf8.count
        }
        scalarAtByte[byte] = text.unicodeScalars.count
        return PIIRedactor().matches(in: text).map { match in
            let range = match.range(in: text)
            return Label(type: match.kind.rawValue, start: scalarAtByte[match.utf8Range.lowerBound]!,
                         end: scalarAtByte[match.utf8Range.upperBound]!, value: String(text[range]))
        }
    }

    struct Score {
        var truePositives = 0, falsePositives = 0, falseNegatives = 0
        var precision: Double { truePositives + falsePositives == 0 ? 1 : Double(truePositives) / Double(truePositives + falsePositives) }
        var recall: Double { truePositives + falseNegatives == 0 ? 1 : Double(truePositives) / Double(truePositives + falseNegatives) }
    }

    @Test func corpusHasEnoughCasesOfEachSide() throws {
        let corpus = try Self.loadCorpus()
        #expect(corpus.filter { !$0.pii.isEmpty }.count >= 200)
        #expect(corpus.filter { $0.pii.isEmpty }.count >= 200)
    }

    /// Scores `corpus`, prints the table and the mistakes, returns the overall score.
    static func evaluate(_ corpus: [Case], name: String) -> Score {
        var scores: [String: Score] = [:]
        var overall = Score()
        var mistakes: [String] = []
        for item in corpus {
            let expected = Set(item.pii)
            let found = Set(detect(item.text))
            for label in found.intersection(expected) {
                scores[label.type, default: Score()].truePositives += 1
                overall.truePositives += 1
            }
            for label in found.subtracting(expected) {
                scores[label.type, default: Score()].falsePositives += 1
                overall.falsePositives += 1
                mistakes.append("FP \(item.id) \(label.type) «\(label.value)»")
            }
            for label in expected.subtracting(found) {
                scores[label.type, default: Score()].falseNegatives += 1
                overall.falseNegatives += 1
                mistakes.append("FN \(item.id) \(label.type) «\(label.value)»")
            }
        }
        func row(_ name: String, _ s: Score) -> String {
            let cells = [name.padding(toLength: 12, withPad: " ", startingAt: 0),
                         String(format: "%4d %4d %4d", s.truePositives, s.falsePositives, s.falseNegatives),
                         String(format: "%.3f  %.3f", s.precision, s.recall)]
            return "| " + cells.joined(separator: " | ") + " |"
        }
        var table = ["\(name): \(corpus.filter { !$0.pii.isEmpty }.count) positive, \(corpus.filter { $0.pii.isEmpty }.count) negative cases",
                     "| type         |   TP   FP   FN | prec.  recall |", "|---|---|---|"]
        for type in scores.keys.sorted() { table.append(row(type, scores[type]!)) }
        table.append(row("overall", overall))
        print(table.joined(separator: "\n"))
        if !mistakes.isEmpty { print(mistakes.sorted().joined(separator: "\n")) }
        return overall
    }

    @Test func precisionAndRecallOnTheLabelledCorpusAreAtLeast95Percent() throws {
        let overall = Self.evaluate(try Self.loadCorpus(), name: "pii-corpus.jsonl")
        #expect(overall.precision >= 0.95)
        #expect(overall.recall >= 0.95)
    }

    /// Cases written after the detector, scored without tuning it: an honest second opinion
    /// on the corpus figures. The bar is lower; it guards against regressions.
    @Test func heldOutCasesScoreAtLeast85Percent() throws {
        let overall = Self.evaluate(try Self.loadCorpus("pii-holdout.jsonl"), name: "pii-holdout.jsonl")
        #expect(overall.precision >= 0.85)
        #expect(overall.recall >= 0.85)
    }
}
