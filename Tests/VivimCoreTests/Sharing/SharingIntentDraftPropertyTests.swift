import Foundation
import Testing
import VivimCore

/// Laws of the edge parser: a spec printed as a draft parses back to itself, and arbitrary
/// drafts either parse or are refused with errors at known fields — never a trap.
@Suite struct SharingIntentDraftPropertyTests {
    static let actor = SharingFixtures.did(1)

    static func pick<T>(_ items: [T], _ rng: inout SplitMix64) -> T { items[Int.random(in: 0..<items.count, using: &rng)] }
    static func ids<Tag>(_ rng: inout SplitMix64, _ range: ClosedRange<Int>) -> [Identifier<Tag>] {
        Array(Set((0..<Int.random(in: range, using: &rng)).map { _ in SharingFixtures.id(UInt64.random(in: 1...50, using: &rng), Tag.self) })).sorted()
    }
    static func date(_ rng: inout SplitMix64) -> Date { Date(timeIntervalSince1970: Double(Int.random(in: 1_700_000_000...1_900_000_000, using: &rng))) }

    static func randomSpec(_ rng: inout SplitMix64) -> IntentSpec {
        let type = pick(ContentType.allCases, &rng)
        let partial = type.hasACUs && rng.chance(0.3)
        let audience: Audience = switch Int.random(in: 0..<4, using: &rng) {
        case 0: .public
        case 1: .circles(ids(&rng, 1...4))
        case 2: .users(Array(Set((0..<Int.random(in: 1...4, using: &rng)).map { _ in SharingFixtures.did(UInt8.random(in: 2...40, using: &rng)) })).sorted())
        default: .link(rng.chance(0.5) ? nil : SharingFixtures.id(UInt64.random(in: 1...9, using: &rng)))
        }
        var permissions = Permissions.none
        for permission in Permission.allCases { permissions[permission] = rng.chance(0.5) }
        var schedule: Schedule?
        if rng.chance(0.5) {
            let start = date(&rng)
            schedule = Schedule(publishAt: rng.chance(0.5) ? start : nil, expiresAt: rng.chance(0.7) ? start.addingTimeInterval(3600) : nil,
                                timezone: rng.chance(0.5) ? pick(["UTC", "Europe/Paris", "Asia/Tokyo"], &rng) : nil)
        }
        let expiration: Expiration? = switch Int.random(in: 0..<4, using: &rng) {
        case 0 where schedule?.expiresAt != nil: .time
        case 1: .access(maxViews: Int.random(in: 1...1000, using: &rng))
        case 2: .condition(.recipientLeavesCircle(SharingFixtures.id(UInt64.random(in: 1...9, using: &rng))))
        default: nil
        }
        var transformations: Transformations?
        if rng.chance(0.5) {
            var t = Transformations()
            t.removeToolCalls = rng.chance(0.5)
            t.anonymizeAIMessages = rng.chance(0.5)
            t.addWatermark = rng.chance(0.5) ? Watermark(text: rng.chance(0.5) ? "w" : nil, position: pick(WatermarkPosition.allCases, &rng), opacity: 0.5) : nil
            t.addAttribution = rng.chance(0.5) ? Attribution(showDate: rng.chance(0.5)) : nil
            transformations = t
        }
        return IntentSpec(
            intentType: pick(IntentType.allCases, &rng),
            content: IntentContent(type: type, ids: ids(&rng, 1...5), scope: partial ? .partial : pick([.full, .summary, .preview], &rng),
                                   includeACUs: partial ? ids(&rng, 1...3) : nil),
            audience: audience, permissions: permissions, schedule: schedule, expiration: expiration, transformations: transformations,
            metadata: IntentMetadata(title: rng.chance(0.5) ? "Title" : nil, tags: rng.chance(0.5) ? ["x", "y"] : [], language: rng.chance(0.5) ? "en-gb" : nil),
            policy: IntentPolicy(requireAcceptance: rng.chance(0.5), trackViews: rng.chance(0.5), allowAnalytics: rng.chance(0.5),
                                 moderationFlag: pick(ModerationFlag.allCases, &rng)),
            coOwners: rng.chance(0.3) ? [SharingFixtures.did(60)] : [], vetoPower: rng.chance(0.3))
    }

    @Test func printThenParseIsTheIdentity() throws {
        var rng = SplitMix64(seed: 0xD0AF7)
        for index in 0..<1_000 {
            let spec = Self.randomSpec(&rng)
            let json = try JSONEncoder().encode(SharingIntentDraft(spec))
            let parsed = try JSONDecoder().decode(SharingIntentDraft.self, from: json).parse(actor: Self.actor)
            #expect(parsed.spec == spec, "case \(index)")
        }
    }

    @Test func arbitraryDraftsParseOrAreRefusedAtKnownFields() {
        var rng = SplitMix64(seed: 0xBAD)
        let garbage = ["", "x", "PUBLIC", "partial", "did:key:z6Mk", "2030-13-01T00:00:00Z", "../etc", String(repeating: "a", count: 10_001)]
        let id = SharingFixtures.id(1, ContentTag.self).rawValue, did = SharingFixtures.did(3).description
        /// Mostly a value that fits the field, sometimes absent, sometimes garbage.
        func text(_ valid: [String]) -> String? {
            if rng.chance(0.03) { return nil }
            return Self.pick(rng.chance(0.97) ? valid : garbage, &rng)
        }
        func list(_ valid: [String]) -> [String]? {
            if rng.chance(0.03) { return nil }
            return (0..<Int.random(in: rng.chance(0.03) ? 0...0 : 1...3, using: &rng)).map { _ in Self.pick(rng.chance(0.97) ? valid : garbage, &rng) }
        }
        let roots: Set<String> = ["intentType", "ownerDid", "content", "audience", "schedule", "expiration", "transformations", "metadata", "policy", "coOwners", "vetoPower"]
        var parsedCount = 0, refusedCount = 0
        for index in 0..<2_000 {
            let draft = SharingIntentDraft(
                intentType: text(["share", "FORK", "embed"]), ownerDid: rng.chance(0.8) ? nil : text([did]),
                content: rng.chance(0.05) ? nil : .init(type: text(["acu", "CONVERSATION", "notebook"]), ids: list([id]), scope: text(["FULL", "partial", "summary"]),
                                                       includeACUs: rng.chance(0.7) ? nil : list([id]), excludeACUs: rng.chance(0.8) ? nil : list([id])),
                audience: rng.chance(0.05) ? nil : .init(type: text(["public", "CIRCLE", "users", "link"]), circleIds: list([id]), userDids: list([did]),
                                                        linkId: rng.chance(0.5) ? nil : text([id])),
                schedule: rng.chance(0.5) ? nil : .init(publishAt: text(["2030-01-01T00:00:00Z"]), expiresAt: text(["2030-02-01T00:00:00.5Z"]), timezone: text(["UTC", "Asia/Tokyo"])),
                expiration: rng.chance(0.5) ? nil : .init(type: text(["time", "ACCESS", "condition"]), maxViews: rng.chance(0.5) ? nil : Int.random(in: -1...3, using: &rng),
                                                          condition: rng.chance(0.5) ? nil : .init(type: text(["recipient_leaves_circle"]), circleId: text([id]))),
                metadata: rng.chance(0.5) ? nil : .init(title: text(["Title"]), tags: list(["a", "b"]), language: text(["en", "pt-BR"])),
                policy: rng.chance(0.5) ? nil : .init(moderationFlag: text(["none", "FLAGGED"]).map { .object($0) }),
                coOwners: list([did]))
            var issues: [ValidationIssue] = []
            let parsed = draft.parse(actor: Self.actor, issues: &issues)
            let errors = issues.filter { $0.severity == .error }
            #expect((parsed == nil) == !errors.isEmpty, "case \(index)")
            for issue in issues {
                let root = String(issue.field.prefix { $0 != "." && $0 != "[" })
                #expect(roots.contains(root), "case \(index): \(issue.field)")
            }
            if parsed != nil { parsedCount += 1 } else { refusedCount += 1 }
        }
        // Both outcomes must be common, or the law is tested on one side only.
        #expect(parsedCount > 100 && refusedCount > 100, "parsed \(parsedCount), refused \(refusedCount)")
    }
}
