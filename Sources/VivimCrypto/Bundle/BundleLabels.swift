import Foundation
import VivimCore

/// The domain-separation strings of the bundle format (SPEC §7.2, docs/bundle-format.md).
/// Every string is used as UTF-8; `|` separates fields, and no field may contain `|`.
public enum BundleLabels {
    /// AES-256-GCM associated data of the content: `vivim/bundle/v1|<intentId>|<ownerDid>`.
    public static func contentAssociatedData(intentId: String, ownerDid: DID) -> [UInt8] {
        Array("vivim/bundle/v1|\(intentId)|\(ownerDid)".utf8)
    }

    /// Ed25519 signature input: `vivim/bundle/v1|<contentId>|<intentId>|<ownerDid>|<createdAt>`.
    public static func signatureInput(contentId: String, intentId: String, ownerDid: DID, createdAt: String) -> [UInt8] {
        Array("vivim/bundle/v1|\(contentId)|\(intentId)|\(ownerDid)|\(createdAt)".utf8)
    }

    /// HPKE `info` of an X-Wing content-key capsule: `vivim/capsule/v1|<contentId>`.
    public static func xWingCapsuleInfo(contentId: String) -> [UInt8] {
        Array("vivim/capsule/v1|\(contentId)".utf8)
    }

    /// HKDF `info` of an ML-KEM-1024 content-key capsule: `vivim/capsule/v1/ml-kem-1024|<contentId>`.
    public static func mlKem1024CapsuleInfo(contentId: String) -> [UInt8] {
        Array("vivim/capsule/v1/ml-kem-1024|\(contentId)".utf8)
    }

    /// HPKE `info` of an X-Wing epoch-key capsule: `vivim/epoch-key/v1|<circleId>|<epoch>`.
    public static func xWingEpochKeyInfo(circleId: CircleID, epoch: Int) -> [UInt8] {
        Array("vivim/epoch-key/v1|\(circleId)|\(epoch)".utf8)
    }

    /// HKDF `info` of an ML-KEM-1024 epoch-key capsule: `vivim/epoch-key/v1/ml-kem-1024|<circleId>|<epoch>`.
    public static func mlKem1024EpochKeyInfo(circleId: CircleID, epoch: Int) -> [UInt8] {
        Array("vivim/epoch-key/v1/ml-kem-1024|\(circleId)|\(epoch)".utf8)
    }

    /// AES-256-GCM associated data of a content key wrapped under a circle's epoch key:
    /// `vivim/epoch-wrap/v1|<circleId>|<epoch>|<contentId>`.
    public static func epochWrapAssociatedData(circleId: CircleID, epoch: Int, contentId: String) -> [UInt8] {
        Array("vivim/epoch-wrap/v1|\(circleId)|\(epoch)|\(contentId)".utf8)
    }

    /// Associated data of every capsule's key wrap: the UTF-8 of the recipient's DID.
    public static func capsuleAssociatedData(recipientDid: DID) -> [UInt8] {
        Array(recipientDid.description.utf8)
    }
}
