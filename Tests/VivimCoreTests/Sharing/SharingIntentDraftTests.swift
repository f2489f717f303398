import Foundation
import Testing
import VivimCore

@Suite struct SharingIntentDraftTests {
    let owner = SharingFixtures.did(1), friend = SharingFixtures.did(2)
    let conversation: ContentID = SharingFixtures.id(1)
    let circle: CircleID = SharingFixtures.id(2)

    func decode(_ json: String) throws -> SharingIntentDraft {
        try JSONDecoder().decode(SharingIntentDraft.self, from: Data(json.utf8))
    }

    func issues(_ draft: SharingIntentDraft) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        _ = draft.parse(actor: owner, issues: &issues)
        return issues
    }

    @Test func lowerCaseEnumsAreAcceptedAndAnsweredUpperCase() throws {
        let draft = try decode("""
            {"intentType": "publish", "content": {"type": "conversation", "ids": ["\(conversation)"], "scope": "summary"},
             "audience": {"type": "circle", "circleIds": ["\(circle)"]}, "policy": {"moderationFlag": "flagged"}}
            """)
        let parsed = try draft.parse(actor: owner)
        #expect(parsed.spec.intentType == .publish)
        #expect(parsed.spec.content.type == .conversation)
        #expect(parsed.spec.content.scope == .summary)
        #expect(parsed.spec.audience == .circles([circle]))
        #expect(parsed.spec.policy.moderationFlag == .flagged)

        let intent = SharingIntent(ownerDid: owner, spec: parsed.spec, createdAt: SharingFixtures.epoch)
        let json = String(decoding: try JSONEncoder().encode(intent), as: UTF8.self)
        #expect(json.contains(#""intentType":"PUBLISH""#))
        #expect(json.contains(#""type":"CONVERSATION""#))
        #expect(json.contains(#""scope":"SUMMARY""#))
        #expect(json.contains(#""status":"DRAFT""#))
    }

    @Test func unknownEnumValuesNameTheirField() {
        #expect(throws: VivimError.validation("content.type must be one of CONVERSATION, ACU, COLLECTION, ANNOTATION, NOTEBOOK", field: "content.type")) {
            try SharingIntentDraft(content: .init(type: "video", ids: [conversation.rawValue]), audience: .init(type: "PUBLIC")).parse(actor: owner)
        }
    }

    @Test func aBadEntryIsReportedByItsIndex() throws {
        let draft = SharingIntentDraft(content: .init(type: "ACU", ids: [conversation.rawValue]),
                                       audience: .init(type: "users", userDids: [friend.description, friend.didKey, "did:web:example.com", "nope"]))
        let found = issues(draft)
        #expect(found.filter { $0.severity == .error }.map(\.field) == ["audience.userDids[2]", "audience.userDids[3]"])
        // did:key and did:vivim forms of one DID are the same recipient.
        #expect(found.contains { $0.field == "audience.userDids[1]" && $0.code == .duplicate && $0.severity == .warning })
        #expect(throws: VivimError.self) { try draft.parse(actor: owner) }
    }

    @Test func everyProblemIsCollectedAtOnce() {
        let draft = SharingIntentDraft(intentType: "gift", content: .init(ids: []), audience: .init(type: "CIRCLE"),
                                       schedule: .init(publishAt: "tomorrow", timezone: "Mars/Olympus"),
                                       expiration: .init(type: "access"))
        let fields = Set(issues(draft).filter { $0.severity == .error }.map(\.field))
        #expect(fields == ["intentType", "content.type", "content.ids", "audience.circleIds", "schedule.publishAt",
                           "schedule.timezone", "expiration.maxViews"])
    }

    @Test func arraysAndStringsHonourTheInputLimits() {
        let tooMany = (0..<101).map { SharingFixtures.id($0, ContentTag.self).rawValue }
        let found = issues(SharingIntentDraft(content: .init(type: "CONVERSATION", ids: tooMany), audience: .init(type: "PUBLIC"),
                                              metadata: .init(title: String(repeating: "t", count: 201),
                                                              description: String(repeating: "d", count: 10_001))))
        #expect(found.contains(ValidationIssue(field: "content.ids", code: .tooMany, message: "content.ids has more than 100 entries")))
        #expect(found.contains { $0.field == "metadata.title" && $0.code == .tooLong })
        #expect(found.contains { $0.field == "metadata.description" && $0.code == .tooLong })

        let atTheLimit = SharingIntentDraft(content: .init(type: "CONVERSATION", ids: Array(tooMany.prefix(100))), audience: .init(type: "PUBLIC"),
                                            metadata: .init(description: String(repeating: "d", count: 10_000)))
        #expect(issues(atTheLimit).filter { $0.severity == .error }.isEmpty)
    }

    @Test func partialScopeNeedsACUsAndContentMadeOfThem() {
        let none = issues(SharingIntentDraft(content: .init(type: "CONVERSATION", ids: [conversation.rawValue], scope: "partial"), audience: .init(type: "PUBLIC")))
        #expect(none.contains { $0.field == "content.scope" && $0.code == .required })

        let acu: ACUID = SharingFixtures.id(9)
        let annotation = issues(SharingIntentDraft(content: .init(type: "ANNOTATION", ids: [conversation.rawValue], scope: "PARTIAL", includeACUs: [acu.rawValue]),
                                                   audience: .init(type: "PUBLIC")))
        #expect(annotation.contains { $0.field == "content.scope" && $0.code == .invalidValue })

        let both = issues(SharingIntentDraft(content: .init(type: "CONVERSATION", ids: [conversation.rawValue], scope: "PARTIAL",
                                                            includeACUs: [acu.rawValue], excludeACUs: [acu.rawValue]), audience: .init(type: "PUBLIC")))
        #expect(both.contains { $0.field == "content.excludeACUs" })
    }

    @Test func expirationShapesMustMatchTheirType() {
        func errors(_ expiration: SharingIntentDraft.ExpirationDraft, schedule: SharingIntentDraft.ScheduleDraft? = nil) -> Set<String> {
            Set(issues(SharingIntentDraft(content: .init(type: "CONVERSATION", ids: [conversation.rawValue]), audience: .init(type: "PUBLIC"),
                                          schedule: schedule, expiration: expiration)).filter { $0.severity == .error }.map(\.field))
        }
        #expect(errors(.init(type: "time")) == ["schedule.expiresAt"])
        #expect(errors(.init(type: "TIME"), schedule: .init(expiresAt: "2030-01-01T00:00:00Z")).isEmpty)
        #expect(errors(.init(type: "access", maxViews: 0)) == ["expiration.maxViews"])
        #expect(errors(.init(type: "time", maxViews: 3), schedule: .init(expiresAt: "2030-01-01T00:00:00Z")) == ["expiration.maxViews"])
        #expect(errors(.init(type: "condition")) == ["expiration.condition"])
        #expect(errors(.init(type: "condition", condition: .init(type: "recipient_leaves_circle"))) == ["expiration.condition.circleId"])
        #expect(errors(.init(type: "condition", condition: .init(type: "RECIPIENT_LEAVES_CIRCLE", circleId: circle.rawValue))).isEmpty)
        #expect(errors(.init(type: "access", maxViews: 5), schedule: .init(publishAt: "2030-01-02T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z"))
                == ["schedule.expiresAt"])
    }

    @Test func watermarkAndAttributionTakeABooleanOrAnObject() throws {
        let draft = try decode("""
            {"content": {"type": "ACU", "ids": ["\(conversation)"]}, "audience": {"type": "link"},
             "transformations": {"addWatermark": {"text": "© me", "position": "top_left", "opacity": 0.5}, "addAttribution": true, "removeImages": true}}
            """)
        let transformations = try #require(try draft.parse(actor: owner).spec.transformations)
        #expect(transformations.addWatermark == Watermark(text: "© me", position: .topLeft, opacity: 0.5))
        #expect(transformations.addAttribution == Attribution())
        #expect(transformations.removeImages)

        let off = try decode(#"{"content": {"type": "ACU", "ids": ["\#(conversation)"]}, "audience": {"type": "LINK"}, "transformations": {"addWatermark": false}}"#)
        #expect(try off.parse(actor: owner).spec.transformations?.addWatermark == nil)

        let bad = try decode(#"{"content": {"type": "ACU", "ids": ["\#(conversation)"]}, "audience": {"type": "LINK"}, "transformations": {"addWatermark": {"opacity": 2}}}"#)
        #expect(throws: VivimError.validation("opacity must be between 0 and 1", field: "transformations.addWatermark.opacity")) { try bad.parse(actor: owner) }
    }

    @Test func permissionsDefaultToViewOnly() throws {
        let base = SharingIntentDraft(content: .init(type: "ACU", ids: [conversation.rawValue]), audience: .init(type: "PUBLIC"))
        #expect(try base.parse(actor: owner).spec.permissions == .viewOnly)
        var copy = base
        copy.permissions = .init(copy: true)
        #expect(try copy.parse(actor: owner).spec.permissions == Permissions(view: true, copy: true))
    }

    @Test func languageTagsAndTagsAreNormalised() throws {
        var draft = SharingIntentDraft(content: .init(type: "ACU", ids: [conversation.rawValue]), audience: .init(type: "PUBLIC"),
                                       metadata: .init(title: "  Notes  ", tags: ["swift", " Swift ", "", "nio"], language: "pt-BR"))
        let metadata = try draft.parse(actor: owner).spec.metadata
        #expect(metadata.title == "Notes")
        #expect(metadata.tags == ["swift", "nio"])
        #expect(metadata.language == "pt-br")
        draft.metadata?.language = "english please"
        #expect(throws: VivimError.self) { try draft.parse(actor: owner) }
    }

    @Test func ownerDefaultsToTheActorAndMayNameAnotherForReshares() throws {
        let base = SharingIntentDraft(content: .init(type: "ACU", ids: [conversation.rawValue]), audience: .init(type: "PUBLIC"))
        #expect(try base.parse(actor: owner).ownerDid == owner)
        var reshare = base
        reshare.ownerDid = friend.didKey
        let parsed = try reshare.parse(actor: owner)
        #expect(parsed.ownerDid == friend)
        #expect(parsed.actorDid == owner)
    }

    @Test func aSpecSurvivesDraftJSONAndParsingUnchanged() throws {
        var transformations = Transformations()
        transformations.redactPersonalInfo = true
        transformations.addWatermark = Watermark(text: "x", position: .center, opacity: 0.25, includeTimestamp: true)
        transformations.addAttribution = Attribution(showAuthor: false, customText: "via VIVIM")
        let spec = IntentSpec(
            intentType: .fork,
            content: IntentContent(type: .notebook, ids: [conversation], scope: .partial, includeACUs: [SharingFixtures.id(5)]),
            audience: .users([friend]), permissions: Permissions(view: true, remix: true),
            schedule: Schedule(publishAt: Date(timeIntervalSince1970: 1_900_000_000), expiresAt: Date(timeIntervalSince1970: 1_900_086_400), timezone: "Europe/Paris"),
            expiration: .condition(.recipientLeavesCircle(circle)), transformations: transformations,
            metadata: IntentMetadata(title: "T", description: "D", tags: ["a"], language: "en", category: "code"),
            policy: IntentPolicy(requireAcceptance: true, trackViews: false, allowAnalytics: true, moderationFlag: .restricted),
            coOwners: [SharingFixtures.did(3)], vetoPower: true)
        let json = try JSONEncoder().encode(SharingIntentDraft(spec))
        let reparsed = try JSONDecoder().decode(SharingIntentDraft.self, from: json).parse(actor: owner)
        #expect(reparsed.spec == spec)
    }

    @Test func aStoredIntentRoundTripsThroughItsFlatJSON() throws {
        let spec = IntentSpec(content: IntentContent(type: .conversation, ids: [conversation]), audience: .link(SharingFixtures.id(7)),
                              expiration: .access(maxViews: 3), transformations: Transformations())
        var intent = SharingIntent(ownerDid: owner, spec: spec, createdAt: SharingFixtures.epoch)
        intent = try intent.moved(to: .pending, at: SharingFixtures.epoch)
        intent.signature = "sig"
        let json = try JSONEncoder().encode(intent)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: ["id", "version", "intentType", "ownerDid", "actorDid", "content", "audience", "permissions",
                                                 "metadata", "policy", "coOwners", "vetoPower", "status", "createdAt", "signature"]))
        #expect((object["transformations"] as? [String: Any])?["addWatermark"] as? Bool == false)
        #expect(try JSONDecoder().decode(SharingIntent.self, from: json) == intent)
    }

    @Test func theSigningPayloadCoversTheDecisionButNotTheLifecycle() throws {
        let spec = IntentSpec(content: IntentContent(type: .conversation, ids: [conversation]), audience: .public)
        let draft = SharingIntent(ownerDid: owner, spec: spec, createdAt: SharingFixtures.epoch)
        let pending = try draft.moved(to: .pending, at: SharingFixtures.epoch.addingTimeInterval(5))
        #expect(draft.signingPayload() == pending.signingPayload())
        #expect(draft.signingPayload().starts(with: Array("vivim/intent/v1|".utf8)))
        var widened = spec
        widened.permissions.download = true
        #expect(draft.updating(widened, at: SharingFixtures.epoch).signingPayload() != draft.signingPayload())
    }
}

@Suite struct WireEnumTests {
    @Test func decodingAcceptsAnyCaseAndEncodingIsCanonical() throws {
        let decoded = try JSONDecoder().decode([ContentType].self, from: Data(#"["conversation", "Acu", "NOTEBOOK"]"#.utf8))
        #expect(decoded == [.conversation, .acu, .notebook])
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == #"["CONVERSATION","ACU","NOTEBOOK"]"#)
        #expect(String(decoding: try JSONEncoder().encode([ExpirationType.access]), as: UTF8.self) == #"["access"]"#)
        #expect(throws: (any Error).self) { try JSONDecoder().decode([AudienceType].self, from: Data(#"["everyone"]"#.utf8)) }
    }

    @Test func permissionAlgebra() {
        let a = Permissions(view: true, copy: true), b = Permissions(view: true, remix: true)
        #expect(a.union(b) == Permissions(view: true, copy: true, remix: true))
        #expect(a.intersection(b) == .viewOnly)
        #expect(Permissions.viewOnly.isSubset(of: a) && !a.isSubset(of: b))
        #expect(Permissions.all.granted == Permission.allCases && Permissions.none.granted.isEmpty)
        #expect(ModerationFlag.restricted.apply(to: .all) == .viewOnly && ModerationFlag.blocked.apply(to: .all) == .none)
    }
}
