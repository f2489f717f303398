import Foundation

/// A closed set of wire values. Input is matched without regard to case; output is the
/// canonical raw value (upper case for the enums of SPEC §4 and §5.1).
public protocol WireEnum: RawRepresentable<String>, CaseIterable, Codable, Sendable, Hashable {}

extension WireEnum {
    /// Parses untrusted text, accepting any letter case.
    public init(parsing text: String, field: String) throws(VivimError) {
        guard text.utf8.count <= 64,
              let value = Self.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() })
        else {
            let choices = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw .validation("\(field) must be one of \(choices)", field: field)
        }
        self = value
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let field = decoder.codingPath.map(\.stringValue).joined(separator: ".")
        self = try Self(parsing: text, field: field.isEmpty ? "value" : field)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// What an intent does with the content (SPEC §5.1).
public enum IntentType: String, WireEnum {
    case share = "SHARE", publish = "PUBLISH", embed = "EMBED", fork = "FORK"
}

/// The kind of content an intent covers (SPEC §4).
public enum ContentType: String, WireEnum {
    case conversation = "CONVERSATION", acu = "ACU", collection = "COLLECTION"
    case annotation = "ANNOTATION", notebook = "NOTEBOOK"

    /// Kinds that are made of ACUs, so a PARTIAL scope can pick some of them.
    public var hasACUs: Bool { self == .conversation || self == .collection || self == .notebook }
}

/// How much of the content is shared (SPEC §4).
public enum ContentScope: String, WireEnum {
    case full = "FULL", partial = "PARTIAL", summary = "SUMMARY", preview = "PREVIEW"
}

/// Who an intent is for (SPEC §5.1).
public enum AudienceType: String, WireEnum {
    case `public` = "PUBLIC", circle = "CIRCLE", users = "USERS", link = "LINK"
}

/// What ends an intent besides revocation (SPEC §5.1). The spec spells these in lower case.
public enum ExpirationType: String, WireEnum {
    case time, access, condition
}

/// A moderation state set on an intent by the owner or the system policy (SPEC §5.3, §5.4).
/// `FLAGGED` is informational, `RESTRICTED` limits recipients to viewing, `BLOCKED` grants nothing.
public enum ModerationFlag: String, WireEnum, Comparable {
    case none = "NONE", flagged = "FLAGGED", restricted = "RESTRICTED", blocked = "BLOCKED"

    private var rank: Int {
        switch self {
        case .none: 0
        case .flagged: 1
        case .restricted: 2
        case .blocked: 3
        }
    }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    /// What a recipient keeps of `permissions` under this flag.
    public func apply(to permissions: Permissions) -> Permissions {
        switch self {
        case .none, .flagged: permissions
        case .restricted: permissions.view ? .viewOnly : .none
        case .blocked: .none
        }
    }
}

/// One of the six permission flags, for `check` (SPEC §5.4).
public enum Permission: String, WireEnum {
    case view = "VIEW", copy = "COPY", annotate = "ANNOTATE", remix = "REMIX", share = "SHARE", download = "DOWNLOAD"
}

extension Permissions {
    /// No permission at all.
    public static let none = Permissions(view: false)

    public subscript(_ permission: Permission) -> Bool {
        get {
            switch permission {
            case .view: view
            case .copy: copy
            case .annotate: annotate
            case .remix: remix
            case .share: share
            case .download: download
            }
        }
        set {
            switch permission {
            case .view: view = newValue
            case .copy: copy = newValue
            case .annotate: annotate = newValue
            case .remix: remix = newValue
            case .share: share = newValue
            case .download: download = newValue
            }
        }
    }

    /// The flags that are set, in the order of SPEC §5.1.
    public var granted: [Permission] { Permission.allCases.filter { self[$0] } }

    public func union(_ other: Permissions) -> Permissions {
        Permissions(view: view || other.view, copy: copy || other.copy, annotate: annotate || other.annotate,
                    remix: remix || other.remix, share: share || other.share, download: download || other.download)
    }

    public func intersection(_ other: Permissions) -> Permissions {
        Permissions(view: view && other.view, copy: copy && other.copy, annotate: annotate && other.annotate,
                    remix: remix && other.remix, share: share && other.share, download: download && other.download)
    }

    public func isSubset(of other: Permissions) -> Bool { union(other) == other }
}
