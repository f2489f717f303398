/// The six permission flags of a share (SPEC §5.1).
public struct Permissions: Sendable, Equatable, Codable, Hashable {
    public var view: Bool
    public var copy: Bool
    public var annotate: Bool
    public var remix: Bool
    public var share: Bool
    public var download: Bool

    public init(view: Bool = true, copy: Bool = false, annotate: Bool = false, remix: Bool = false, share: Bool = false, download: Bool = false) {
        self.view = view
        self.copy = copy
        self.annotate = annotate
        self.remix = remix
        self.share = share
        self.download = download
    }

    public static let viewOnly = Permissions()
    public static let all = Permissions(view: true, copy: true, annotate: true, remix: true, share: true, download: true)
}
