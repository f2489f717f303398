import Foundation
import VivimCore

/// Deterministic values for the sharing tests.
enum SharingFixtures {
    static func did(_ n: UInt8) -> DID { try! DID(ed25519PublicKey: [UInt8](repeating: n, count: 32)) }

    /// A well-formed id whose text is fixed by `n`, so tests are reproducible.
    static func id<Tag>(_ n: UInt64, _: Tag.Type = Tag.self) -> Identifier<Tag> {
        let hex = String(n, radix: 16)
        let tail = String(repeating: "0", count: 12 - hex.count) + hex
        return Identifier(trusted: "00000000-0000-4000-8000-\(tail)")
    }

    static let epoch = Date(timeIntervalSince1970: 1_800_000_000)

    static func circle(_ id: CircleID, owner: DID, isPrivate: Bool = true, defaults: Permissions = .viewOnly) -> Circle {
        Circle(id: id, name: "circle", description: nil, icon: nil, ownerDid: owner, isPrivate: isPrivate,
               defaultPermissions: defaults, createdAt: epoch, updatedAt: epoch)
    }

    static func membership(_ did: DID, in circle: CircleID, role: CircleRole = .member, canShare: Bool = true) -> CircleMember {
        CircleMember(circleID: circle, did: did, role: role, canInvite: false, canShare: canShare, joinedAt: epoch)
    }

    /// An intent already in `status`, without going through the lifecycle.
    static func intent(id: IntentID = IntentID(), owner: DID, content: [ContentID], audience: Audience,
                       permissions: Permissions = .viewOnly, status: IntentStatus = .active, schedule: Schedule? = nil,
                       expiration: Expiration? = nil, policy: IntentPolicy = IntentPolicy()) -> SharingIntent {
        let spec = IntentSpec(content: IntentContent(type: .conversation, ids: content), audience: audience, permissions: permissions,
                              schedule: schedule, expiration: expiration, policy: policy)
        var intent = SharingIntent(id: id, ownerDid: owner, spec: spec, createdAt: epoch)
        intent.status = status
        return intent
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator for property tests.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
}
