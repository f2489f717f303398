import Foundation

/// An intent as a client sends it (SPEC §5.1, §5.5): plain JSON values, every field optional,
/// enums in any case, dates as RFC 3339 text. Parse it once, at the edge, into an `IntentSpec`;
/// every problem is reported with its field path (`audience.userDids[2]`).
public struct SharingIntentDraft: Sendable, Equatable, Codable {
    public var intentType: String?
    /// The content owner when re-sharing someone else's content; the caller otherwise.
    public var ownerDid: String?
    public var content: Content?
    public var audience: AudienceDraft?
    public var permissions: PermissionsDraft?
    public var schedule: ScheduleDraft?
    public var expiration: ExpirationDraft?
    public var transformations: TransformationsDraft?
    public var metadata: MetadataDraft?
    public var policy: PolicyDraft?
    public var coOwners: [String]?
    public var vetoPower: Bool?

    public struct Content: Sendable, Equatable, Codable {
        public var type: String?
        public var ids: [String]?
        public var scope: String?
        public var includeACUs: [String]?
        public var excludeACUs: [String]?
        public init(type: String? = nil, ids: [String]? = nil, scope: String? = nil, includeACUs: [String]? = nil, excludeACUs: [String]? = nil) {
            self.type = type
            self.ids = ids
            self.scope = scope
            self.includeACUs = includeACUs
            self.excludeACUs = excludeACUs
        }
    }

    public struct AudienceDraft: Sendable, Equatable, Codable {
        public var type: String?
        public var circleIds: [String]?
        public var userDids: [String]?
        public var linkId: String?
        public init(type: String? = nil, circleIds: [String]? = nil, userDids: [String]? = nil, linkId: String? = nil) {
            self.type = type
            self.circleIds = circleIds
            self.userDids = userDids
            self.linkId = linkId
        }
    }

    /// Absent flags are false, except `view`, which defaults to true.
    public struct PermissionsDraft: Sendable, Equatable, Codable {
        public var view, copy, annotate, remix, share, download: Bool?
        public init(view: Bool? = nil, copy: Bool? = nil, annotate: Bool? = nil, remix: Bool? = nil, share: Bool? = nil, download: Bool? = nil) {
            self.view = view
            self.copy = copy
            self.annotate = annotate
            self.remix = remix
            self.share = share
            self.download = download
        }
    }

    public struct ScheduleDraft: Sendable, Equatable, Codable {
        public var publishAt: String?
        public var expiresAt: String?
        public var timezone: String?
        public init(publishAt: String? = nil, expiresAt: String? = nil, timezone: String? = nil) {
            self.publishAt = publishAt
            self.expiresAt = expiresAt
            self.timezone = timezone
        }
    }

    public struct ConditionDraft: Sendable, Equatable, Codable {
        public var type: String?
        public var circleId: String?
        public init(type: String? = nil, circleId: String? = nil) {
            self.type = type
            self.circleId = circleId
        }
    }

    public struct ExpirationDraft: Sendable, Equatable, Codable {
        public var type: String?
        public var maxViews: Int?
        public var condition: ConditionDraft?
        public init(type: String? = nil, maxViews: Int? = nil, condition: ConditionDraft? = nil) {
            self.type = type
            self.maxViews = maxViews
            self.condition = condition
        }
    }

    public struct WatermarkDraft: Sendable, Equatable, Codable {
        public var text: String?
        public var position: String?
        public var opacity: Double?
        public var includeTimestamp: Bool?
        public init(text: String? = nil, position: String? = nil, opacity: Double? = nil, includeTimestamp: Bool? = nil) {
            self.text = text
            self.position = position
            self.opacity = opacity
            self.includeTimestamp = includeTimestamp
        }
    }

    public struct AttributionDraft: Sendable, Equatable, Codable {
        public var showAuthor, showDate, showSource: Bool?
        public var customText: String?
        public init(showAuthor: Bool? = nil, showDate: Bool? = nil, showSource: Bool? = nil, customText: String? = nil) {
            self.showAuthor = showAuthor
            self.showDate = showDate
            self.showSource = showSource
            self.customText = customText
        }
    }

    public struct TransformationsDraft: Sendable, Equatable, Codable {
        public var removeSystemMessages, removeToolCalls, removeImages, redactPersonalInfo: Bool?
        public var addWatermark: FlagOrObject<WatermarkDraft>?
        public var addAttribution: FlagOrObject<AttributionDraft>?
        public var addNotes, anonymizeUserMessages, anonymizeAIMessages: Bool?
        public init() {}
    }

    public struct MetadataDraft: Sendable, Equatable, Codable {
        public var title, description: String?
        public var tags: [String]?
        public var language, category: String?
        public init(title: String? = nil, description: String? = nil, tags: [String]? = nil, language: String? = nil, category: String? = nil) {
            self.title = title
            self.description = description
            self.tags = tags
            self.language = language
            self.category = category
        }
    }

    /// `moderationFlag` may be a flag name or a boolean (`true` = FLAGGED).
    public struct PolicyDraft: Sendable, Equatable, Codable {
        public var requireAcceptance, trackViews, allowAnalytics: Bool?
        public var moderationFlag: FlagOrObject<String>?
        public init(requireAcceptance: Bool? = nil, trackViews: Bool? = nil, allowAnalytics: Bool? = nil, moderationFlag: FlagOrObject<String>? = nil) {
            self.requireAcceptance = requireAcceptance
            self.trackViews = trackViews
            self.allowAnalytics = allowAnalytics
            self.moderationFlag = moderationFlag
        }
    }

    public init(intentType: String? = nil, ownerDid: String? = nil, content: Content? = nil, audience: AudienceDraft? = nil,
                permissions: PermissionsDraft? = nil, schedule: ScheduleDraft? = nil, expiration: ExpirationDraft? = nil,
                transformations: TransformationsDraft? = nil, metadata: MetadataDraft? = nil, policy: PolicyDraft? = nil,
                coOwners: [String]? = nil, vetoPower: Bool? = nil) {
        self.intentType = intentType
        self.ownerDid = ownerDid
        self.content = content
        self.audience = audience
        self.permissions = permissions
        self.schedule = schedule
        self.expiration = expiration
        self.transformations = transformations
        self.metadata = metadata
        self.policy = policy
        self.coOwners = coOwners
        self.vetoPower = vetoPower
    }
}

/// The result of parsing a draft: who owns the content, who acts, and what they decided.
public struct ParsedIntentDraft: Sendable, Equatable {
    public var ownerDid: DID
    public var actorDid: DID
    public var spec: IntentSpec
    public init(ownerDid: DID, actorDid: DID, spec: IntentSpec) {
        self.ownerDid = ownerDid
        self.actorDid = actorDid
        self.spec = spec
    }
}

/// Field-size rules of intents (SPEC §10.6, and choices recorded in docs/sharing-core.md).
public enum IntentLimits {
    public static let maxTitleLength = InputLimits.maxNameLength
    public static let maxTagLength = 100
    public static let maxCategoryLength = 100
    public static let maxWatermarkTextLength = InputLimits.maxNameLength
    public static let maxLanguageTagLength = 35
    public static let maxViews = 1_000_000_000
}

extension SharingIntentDraft {
    /// Parses the draft, throwing the first problem as `VALIDATION_ERROR` with its field.
    public func parse(actor: DID) throws(VivimError) -> ParsedIntentDraft {
        var log = IssueLog()
        let parsed = parse(actor: actor, log: &log)
        if let first = log.issues.first(where: { $0.severity == .error }) { throw first.asError }
        guard let parsed else { throw .validation("invalid intent") }
        return parsed
    }

    /// Parses the draft, collecting every problem (errors and warnings) into `issues`.
    /// Returns nil when there was an error.
    public func parse(actor: DID, issues: inout [ValidationIssue]) -> ParsedIntentDraft? {
        var log = IssueLog()
        let parsed = parse(actor: actor, log: &log)
        issues += log.issues
        return log.hasErrors ? nil : parsed
    }

    func parse(actor: DID, log: inout IssueLog) -> ParsedIntentDraft? {
        let intentType = intentType.flatMap { text in log.attempt("intentType") { () throws(VivimError) in try IntentType(parsing: text, field: "intentType") } } ?? .share
        let owner = ownerDid.flatMap { text in log.attempt("ownerDid") { () throws(VivimError) in try parseDID(text, field: "ownerDid") } } ?? actor
        let content = parseContent(log: &log)
        let audience = parseAudience(log: &log)
        let permissions = parsePermissions()
        let schedule = parseSchedule(log: &log)
        let expiration = parseExpiration(schedule: schedule, log: &log)
        let transformations = parseTransformations(log: &log)
        let metadata = parseMetadata(log: &log)
        let policy = parsePolicy(log: &log)
        let coOwners = parseDIDs(coOwners, field: "coOwners", log: &log)
        if vetoPower == true, coOwners.isEmpty {
            log.warning("vetoPower", .ignored, "vetoPower has no effect without coOwners")
        }
        guard let content, let audience, !log.hasErrors else { return nil }
        let spec = IntentSpec(intentType: intentType, content: content, audience: audience, permissions: permissions,
                              schedule: schedule, expiration: expiration, transformations: transformations,
                              metadata: metadata, policy: policy, coOwners: coOwners, vetoPower: vetoPower ?? false)
        return ParsedIntentDraft(ownerDid: owner, actorDid: actor, spec: spec)
    }

    private func parseContent(log: inout IssueLog) -> IntentContent? {
        guard let content else {
            log.error("content", .required, "content is required")
            return nil
        }
        var type: ContentType?
        if let text = content.type {
            type = log.attempt("content.type") { () throws(VivimError) in try ContentType(parsing: text, field: "content.type") }
        } else {
            log.error("content.type", .required, "content.type is required")
        }
        let scope = content.scope.flatMap { text in log.attempt("content.scope") { () throws(VivimError) in try ContentScope(parsing: text, field: "content.scope") } } ?? .full
        let ids: [ContentID] = parseIDs(content.ids, field: "content.ids", log: &log)
        if content.ids?.isEmpty ?? true { log.error("content.ids", .required, "content.ids must name at least one item") }
        let include: [ACUID]? = content.includeACUs.map { parseIDs($0, field: "content.includeACUs", log: &log) }
        let exclude: [ACUID]? = content.excludeACUs.map { parseIDs($0, field: "content.excludeACUs", log: &log) }
        if scope == .partial {
            if (include ?? []).isEmpty && (exclude ?? []).isEmpty {
                log.error("content.scope", .required, "a PARTIAL scope needs includeACUs or excludeACUs")
            }
            if let type, !type.hasACUs {
                log.error("content.scope", .invalidValue, "\(type.rawValue) content cannot be shared in part")
            }
        } else if include != nil || exclude != nil {
            log.warning("content.scope", .ignored, "includeACUs and excludeACUs only apply to a PARTIAL scope")
        }
        if let include, let exclude, !Set(include).isDisjoint(with: exclude) {
            log.error("content.excludeACUs", .invalidValue, "an ACU cannot be both included and excluded")
        }
        guard let type else { return nil }
        return IntentContent(type: type, ids: ids, scope: scope,
                             includeACUs: scope == .partial ? include : nil, excludeACUs: scope == .partial ? exclude : nil)
    }

    private func parseAudience(log: inout IssueLog) -> Audience? {
        guard let audience else {
            log.error("audience", .required, "audience is required")
            return nil
        }
        guard let text = audience.type else {
            log.error("audience.type", .required, "audience.type is required")
            return nil
        }
        guard let type = log.attempt("audience.type", { () throws(VivimError) in try AudienceType(parsing: text, field: "audience.type") }) else { return nil }
        func ignore(_ present: Bool, _ name: String) {
            if present { log.warning("audience.\(name)", .ignored, "audience.\(name) is ignored for a \(type.rawValue) audience") }
        }
        switch type {
        case .public:
            ignore(audience.circleIds != nil, "circleIds")
            ignore(audience.userDids != nil, "userDids")
            ignore(audience.linkId != nil, "linkId")
            return .public
        case .circle:
            ignore(audience.userDids != nil, "userDids")
            ignore(audience.linkId != nil, "linkId")
            guard let raw = audience.circleIds, !raw.isEmpty else {
                log.error("audience.circleIds", .required, "a CIRCLE audience names at least one circle")
                return nil
            }
            return .circles(parseIDs(raw, field: "audience.circleIds", log: &log))
        case .users:
            ignore(audience.circleIds != nil, "circleIds")
            ignore(audience.linkId != nil, "linkId")
            guard let raw = audience.userDids, !raw.isEmpty else {
                log.error("audience.userDids", .required, "a USERS audience names at least one DID")
                return nil
            }
            return .users(parseDIDs(raw, field: "audience.userDids", log: &log))
        case .link:
            ignore(audience.circleIds != nil, "circleIds")
            ignore(audience.userDids != nil, "userDids")
            let link = audience.linkId.flatMap { text in log.attempt("audience.linkId") { () throws(VivimError) in try ShareLinkID(parsing: text, field: "audience.linkId") } }
            return .link(link)
        }
    }

    private func parsePermissions() -> Permissions {
        guard let permissions else { return .viewOnly }
        return Permissions(view: permissions.view ?? true, copy: permissions.copy ?? false, annotate: permissions.annotate ?? false,
                           remix: permissions.remix ?? false, share: permissions.share ?? false, download: permissions.download ?? false)
    }

    private func parseSchedule(log: inout IssueLog) -> Schedule? {
        guard let schedule else { return nil }
        let publishAt = schedule.publishAt.flatMap { text in log.attempt("schedule.publishAt") { () throws(VivimError) in try RFC3339.parse(text, field: "schedule.publishAt") } }
        let expiresAt = schedule.expiresAt.flatMap { text in log.attempt("schedule.expiresAt") { () throws(VivimError) in try RFC3339.parse(text, field: "schedule.expiresAt") } }
        var timezone: String?
        if let zone = schedule.timezone {
            // Kept as written: Foundation may canonicalize (UTC reads back as GMT on Linux).
            if zone.utf8.count <= 64, TimeZone(identifier: zone) != nil {
                timezone = zone
            } else {
                log.error("schedule.timezone", .invalidValue, "schedule.timezone must be an IANA time-zone name such as Europe/Paris")
            }
        }
        if let publishAt, let expiresAt, expiresAt <= publishAt {
            log.error("schedule.expiresAt", .invalidSchedule, "schedule.expiresAt must be after schedule.publishAt")
        }
        return Schedule(publishAt: publishAt, expiresAt: expiresAt, timezone: timezone)
    }

    private func parseExpiration(schedule: Schedule?, log: inout IssueLog) -> Expiration? {
        guard let expiration else { return nil }
        guard let text = expiration.type else {
            log.error("expiration.type", .required, "expiration.type is required")
            return nil
        }
        guard let type = log.attempt("expiration.type", { () throws(VivimError) in try ExpirationType(parsing: text, field: "expiration.type") }) else { return nil }
        if type != .access, expiration.maxViews != nil {
            log.error("expiration.maxViews", .invalidValue, "maxViews belongs to an access expiration")
        }
        if type != .condition, expiration.condition != nil {
            log.error("expiration.condition", .invalidValue, "condition belongs to a condition expiration")
        }
        switch type {
        case .time:
            guard schedule?.expiresAt != nil else {
                log.error("schedule.expiresAt", .required, "a time expiration needs schedule.expiresAt")
                return nil
            }
            return .time
        case .access:
            guard let maxViews = expiration.maxViews else {
                log.error("expiration.maxViews", .required, "an access expiration needs maxViews")
                return nil
            }
            guard (1...IntentLimits.maxViews).contains(maxViews) else {
                log.error("expiration.maxViews", .invalidValue, "maxViews must be between 1 and \(IntentLimits.maxViews)")
                return nil
            }
            return .access(maxViews: maxViews)
        case .condition:
            guard let condition = expiration.condition else {
                log.error("expiration.condition", .required, "a condition expiration needs a condition")
                return nil
            }
            guard let kindText = condition.type else {
                log.error("expiration.condition.type", .required, "expiration.condition.type is required")
                return nil
            }
            guard let kind = log.attempt("expiration.condition.type", { () throws(VivimError) in
                try ExpirationCondition.Kind(parsing: kindText, field: "expiration.condition.type")
            }) else { return nil }
            switch kind {
            case .recipientLeavesCircle:
                guard let circleText = condition.circleId else {
                    log.error("expiration.condition.circleId", .required, "RECIPIENT_LEAVES_CIRCLE needs circleId")
                    return nil
                }
                guard let circle = log.attempt("expiration.condition.circleId", { () throws(VivimError) in
                    try CircleID(parsing: circleText, field: "expiration.condition.circleId")
                }) else { return nil }
                return .condition(.recipientLeavesCircle(circle))
            }
        }
    }

    private func parseTransformations(log: inout IssueLog) -> Transformations? {
        guard let draft = transformations else { return nil }
        var result = Transformations()
        result.removeSystemMessages = draft.removeSystemMessages ?? false
        result.removeToolCalls = draft.removeToolCalls ?? false
        result.removeImages = draft.removeImages ?? false
        result.redactPersonalInfo = draft.redactPersonalInfo ?? false
        result.addNotes = draft.addNotes ?? false
        result.anonymizeUserMessages = draft.anonymizeUserMessages ?? false
        result.anonymizeAIMessages = draft.anonymizeAIMessages ?? false
        switch draft.addWatermark {
        case nil, .flag(false): break
        case .flag(true): result.addWatermark = Watermark()
        case .object(let watermark):
            var value = Watermark()
            value.text = log.text(watermark.text, field: "transformations.addWatermark.text", max: IntentLimits.maxWatermarkTextLength)
            if let position = watermark.position,
               let parsed = log.attempt("transformations.addWatermark.position", { () throws(VivimError) in
                   try WatermarkPosition(parsing: position, field: "transformations.addWatermark.position")
               }) {
                value.position = parsed
            }
            if let opacity = watermark.opacity {
                if opacity.isFinite, (0...1).contains(opacity) {
                    value.opacity = opacity
                } else {
                    log.error("transformations.addWatermark.opacity", .invalidValue, "opacity must be between 0 and 1")
                }
            }
            value.includeTimestamp = watermark.includeTimestamp ?? false
            result.addWatermark = value
        }
        switch draft.addAttribution {
        case nil, .flag(false): break
        case .flag(true): result.addAttribution = Attribution()
        case .object(let attribution):
            result.addAttribution = Attribution(
                showAuthor: attribution.showAuthor ?? true, showDate: attribution.showDate ?? true, showSource: attribution.showSource ?? true,
                customText: log.text(attribution.customText, field: "transformations.addAttribution.customText"))
        }
        return result
    }

    private func parseMetadata(log: inout IssueLog) -> IntentMetadata {
        guard let draft = metadata else { return IntentMetadata() }
        var result = IntentMetadata()
        result.title = log.text(draft.title, field: "metadata.title", max: IntentLimits.maxTitleLength)
        result.description = log.text(draft.description, field: "metadata.description")
        result.category = log.text(draft.category, field: "metadata.category", max: IntentLimits.maxCategoryLength)
        if let language = draft.language {
            if LanguageTag.isWellFormed(language) {
                result.language = language.lowercased()
            } else {
                log.error("metadata.language", .invalidValue, "metadata.language must be a BCP 47 tag such as en or pt-br")
            }
        }
        if let tags = draft.tags, log.checkCount(tags.count, field: "metadata.tags") {
            var seen = Set<String>()
            for (index, tag) in tags.enumerated() {
                guard let text = log.text(tag, field: "metadata.tags[\(index)]", max: IntentLimits.maxTagLength) else { continue }
                if seen.insert(text.lowercased()).inserted {
                    result.tags.append(text)
                } else {
                    log.warning("metadata.tags[\(index)]", .duplicate, "duplicate tag dropped")
                }
            }
        }
        return result
    }

    private func parsePolicy(log: inout IssueLog) -> IntentPolicy {
        guard let draft = policy else { return IntentPolicy() }
        var result = IntentPolicy()
        result.requireAcceptance = draft.requireAcceptance ?? result.requireAcceptance
        result.trackViews = draft.trackViews ?? result.trackViews
        result.allowAnalytics = draft.allowAnalytics ?? result.allowAnalytics
        switch draft.moderationFlag {
        case nil: break
        case .flag(let on): result.moderationFlag = on ? .flagged : .none
        case .object(let text):
            result.moderationFlag = log.attempt("policy.moderationFlag") { () throws(VivimError) in
                try ModerationFlag(parsing: text, field: "policy.moderationFlag")
            } ?? .none
        }
        return result
    }

    /// Parses a list of ids, reporting each bad entry by index and dropping duplicates with a warning.
    private func parseIDs<Tag>(_ raw: [String]?, field: String, log: inout IssueLog) -> [Identifier<Tag>] {
        guard let raw, log.checkCount(raw.count, field: field) else { return [] }
        var seen = Set<Identifier<Tag>>(), result: [Identifier<Tag>] = []
        for (index, text) in raw.enumerated() {
            let path = "\(field)[\(index)]"
            guard let id = log.attempt(path, { () throws(VivimError) in try Identifier<Tag>(parsing: text, field: path) }) else { continue }
            if seen.insert(id).inserted { result.append(id) } else { log.warning(path, .duplicate, "duplicate entry dropped") }
        }
        return result
    }

    private func parseDIDs(_ raw: [String]?, field: String, log: inout IssueLog) -> [DID] {
        guard let raw, log.checkCount(raw.count, field: field) else { return [] }
        var seen = Set<DID>(), result: [DID] = []
        for (index, text) in raw.enumerated() {
            let path = "\(field)[\(index)]"
            guard let did = log.attempt(path, { () throws(VivimError) in try parseDID(text, field: path) }) else { continue }
            if seen.insert(did).inserted { result.append(did) } else { log.warning(path, .duplicate, "duplicate entry dropped") }
        }
        return result
    }
}

extension SharingIntentDraft {
    /// The draft that parses back to `spec` (for clients such as the `IntentBuilder`).
    public init(_ spec: IntentSpec, ownerDid: DID? = nil) {
        self.init(intentType: spec.intentType.rawValue, ownerDid: ownerDid?.description)
        content = Content(type: spec.content.type.rawValue, ids: spec.content.ids.map(\.rawValue), scope: spec.content.scope.rawValue,
                          includeACUs: spec.content.includeACUs?.map(\.rawValue), excludeACUs: spec.content.excludeACUs?.map(\.rawValue))
        switch spec.audience {
        case .public: audience = AudienceDraft(type: "PUBLIC")
        case .circles(let ids): audience = AudienceDraft(type: "CIRCLE", circleIds: ids.map(\.rawValue))
        case .users(let dids): audience = AudienceDraft(type: "USERS", userDids: dids.map(\.description))
        case .link(let id): audience = AudienceDraft(type: "LINK", linkId: id?.rawValue)
        }
        let p = spec.permissions
        permissions = PermissionsDraft(view: p.view, copy: p.copy, annotate: p.annotate, remix: p.remix, share: p.share, download: p.download)
        schedule = spec.schedule.map {
            ScheduleDraft(publishAt: $0.publishAt.map(RFC3339.format), expiresAt: $0.expiresAt.map(RFC3339.format), timezone: $0.timezone)
        }
        expiration = spec.expiration.map { expiration in
            switch expiration {
            case .time: ExpirationDraft(type: "time")
            case .access(let max): ExpirationDraft(type: "access", maxViews: max)
            case .condition(.recipientLeavesCircle(let circle)):
                ExpirationDraft(type: "condition", condition: ConditionDraft(type: ExpirationCondition.Kind.recipientLeavesCircle.rawValue, circleId: circle.rawValue))
            }
        }
        transformations = spec.transformations.map { t in
            var draft = TransformationsDraft()
            draft.removeSystemMessages = t.removeSystemMessages
            draft.removeToolCalls = t.removeToolCalls
            draft.removeImages = t.removeImages
            draft.redactPersonalInfo = t.redactPersonalInfo
            draft.addNotes = t.addNotes
            draft.anonymizeUserMessages = t.anonymizeUserMessages
            draft.anonymizeAIMessages = t.anonymizeAIMessages
            draft.addWatermark = t.addWatermark.map {
                .object(WatermarkDraft(text: $0.text, position: $0.position.rawValue, opacity: $0.opacity, includeTimestamp: $0.includeTimestamp))
            } ?? .flag(false)
            draft.addAttribution = t.addAttribution.map {
                .object(AttributionDraft(showAuthor: $0.showAuthor, showDate: $0.showDate, showSource: $0.showSource, customText: $0.customText))
            } ?? .flag(false)
            return draft
        }
        let m = spec.metadata
        metadata = MetadataDraft(title: m.title, description: m.description, tags: m.tags, language: m.language, category: m.category)
        let policy = spec.policy
        self.policy = PolicyDraft(requireAcceptance: policy.requireAcceptance, trackViews: policy.trackViews,
                                  allowAnalytics: policy.allowAnalytics, moderationFlag: .object(policy.moderationFlag.rawValue))
        coOwners = spec.coOwners.map(\.description)
        vetoPower = spec.vetoPower
    }
}

/// RFC 3339 timestamps, with or without fractional seconds.
public enum RFC3339 {
    public static func parse(_ text: String, field: String) throws(VivimError) -> Date {
        if text.utf8.count <= 64 {
            if let date = try? Date(text, strategy: .iso8601) { return date }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        }
        throw .validation("\(field) must be an RFC 3339 timestamp", field: field)
    }

    /// UTC with milliseconds, e.g. `2027-01-15T12:00:00.000Z`, rounded to the nearest
    /// millisecond (a formatter would truncate 0.2559999… to .255, so text written and read back
    /// would name another instant than the one signed).
    public static func format(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        let seconds = (milliseconds / 1000).rounded(.down)
        let whole = Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
        let fraction = Int(milliseconds - seconds * 1000)
        return String(whole.dropLast()) + "." + String(String(fraction + 1000).dropFirst()) + "Z"
    }
}

/// A pragmatic BCP 47 check: a 2–3 letter language, then 1–8 character alphanumeric subtags.
enum LanguageTag {
    static func isWellFormed(_ text: String) -> Bool {
        guard text.utf8.count <= IntentLimits.maxLanguageTagLength else { return false }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.utf8.count), first.utf8.allSatisfy(isLetter) else { return false }
        return parts.dropFirst().allSatisfy { part in
            (1...8).contains(part.utf8.count) && part.utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) }
}

/// Parses a DID, reporting problems at `field` (such as `audience.userDids[2]`).
func parseDID(_ text: String, field: String) throws(VivimError) -> DID {
    do {
        return try DID(parsing: text)
    } catch {
        throw .validation(error.message, field: field)
    }
}
