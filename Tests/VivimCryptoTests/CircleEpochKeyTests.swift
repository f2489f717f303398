import Crypto
import Foundation
import Testing
import VivimCore
@testable import VivimCrypto

@Suite struct CircleEpochKeyTests {
    let contentId = Hashing.sha256Hex("ciphertext")

    @Test(arguments: EncryptionKeyAlgorithm.allCases)
    func membersRecoverTheEpochKeyWithTheirOwnKeyPair(suite: EncryptionKeyAlgorithm) throws {
        let member = try TestRecipient(suite)
        let epochKey = CircleEpochKey.generate(circleId: CircleID())
        let capsule = try epochKey.seal(to: member.recipient)
        let opened = try capsule.open(keyPair: member.keyPair)
        #expect(opened.symmetricKey == epochKey.symmetricKey)
        #expect(opened.circleId == epochKey.circleId && opened.epoch == 1)
        #expect(throws: VivimError.self) { try capsule.open(keyPair: try EncryptionKeyPair.generate(suite)) }
    }

    @Test func anEpochKeyCapsuleIsBoundToItsCircleAndEpoch() throws {
        let member = try TestRecipient(.xWing)
        let epochKey = CircleEpochKey.generate(circleId: CircleID(), epoch: 4)
        let capsule = try epochKey.seal(to: member.recipient)
        var otherEpoch = capsule
        otherEpoch.epoch = 5
        #expect(throws: VivimError.self) { try otherEpoch.open(keyPair: member.keyPair) }
        var otherCircle = capsule
        otherCircle.circleId = CircleID()
        #expect(throws: VivimError.self) { try otherCircle.open(keyPair: member.keyPair) }
        // Nor does it open as a content-key capsule.
        #expect(throws: VivimError.self) {
            try KeyCapsule(recipientDid: member.did, kem: .xWing, keyId: capsule.keyId, enc: capsule.enc, wrapped: capsule.wrapped)
                .open(contentId: contentId, keyPair: member.keyPair)
        }
    }

    @Test func wrapsAndUnwrapsAContentKey() throws {
        let epochKey = CircleEpochKey.generate(circleId: CircleID())
        let contentKey = ContentKey.generate()
        let capsule = try epochKey.wrap(contentKey, contentId: contentId)
        #expect(capsule.nonce.count == 12 && capsule.wrapped.count == 48)
        #expect(try epochKey.unwrap(capsule, contentId: contentId).symmetricKey == contentKey.symmetricKey)
        #expect(throws: VivimError.self) { try epochKey.unwrap(capsule, contentId: Hashing.sha256Hex("other")) }
        #expect(throws: VivimError.self) { try epochKey.rotated().unwrap(capsule, contentId: contentId) }
        for index in capsule.nonce.indices {
            var tampered = capsule
            tampered.nonce = capsule.nonce.flipping(byteAt: index)
            #expect(throws: VivimError.self) { try epochKey.unwrap(tampered, contentId: contentId) }
        }
        for index in capsule.wrapped.indices {
            var tampered = capsule
            tampered.wrapped = capsule.wrapped.flipping(byteAt: index)
            #expect(throws: VivimError.self) { try epochKey.unwrap(tampered, contentId: contentId) }
        }
    }

    @Test func rotationMakesAFreshIndependentKey() throws {
        let first = CircleEpochKey.generate(circleId: CircleID())
        let second = first.rotated()
        #expect(second.epoch == first.epoch + 1)
        #expect(second.circleId == first.circleId)
        #expect(second.symmetricKey != first.symmetricKey)
    }

    @Test func aRemovedMemberCannotReadSharesMadeAfterRotation() throws {
        let owner = BundleSealer(owner: SigningIdentity())
        let staying = try TestRecipient(.xWing)
        let leaving = try TestRecipient(.mlKem1024)
        let epoch1 = CircleEpochKey.generate(circleId: CircleID())
        let leavingCopy = try epoch1.seal(to: leaving.recipient).open(keyPair: leaving.keyPair)

        let before = try owner.seal(
            Fixtures.plaintext, intentId: Fixtures.intentId, recipients: [], circles: [epoch1],
            description: Fixtures.description)
        #expect(try BundleOpener.open(before.bundle, epochKey: leavingCopy) == Fixtures.plaintext)

        // `leaving` is removed: the epoch rotates and only the remaining members get the new key.
        let epoch2 = epoch1.rotated()
        let stayingCopy = try epoch2.seal(to: staying.recipient).open(keyPair: staying.keyPair)
        let after = try owner.seal(
            Fixtures.plaintext, intentId: Fixtures.intentId, recipients: [], circles: [epoch2],
            description: Fixtures.description)
        #expect(try BundleOpener.open(after.bundle, epochKey: stayingCopy) == Fixtures.plaintext)
        #expect(throws: VivimError.self) { try BundleOpener.open(after.bundle, epochKey: leavingCopy) }
        // Even a forged capsule label cannot make the old key open the new share.
        var relabelled = after.bundle
        relabelled.epochCapsules[0].epoch = 1
        #expect(throws: VivimError.self) { try BundleOpener.open(relabelled, epochKey: leavingCopy) }
    }

    @Test func restoringAStoredEpochKeyValidatesIt() throws {
        #expect(throws: VivimError.self) {
            try CircleEpochKey(circleId: CircleID(), epoch: 0, symmetricKey: SymmetricKey(size: .bits256))
        }
        #expect(throws: VivimError.self) {
            try CircleEpochKey(circleId: CircleID(), epoch: 1, symmetricKey: SymmetricKey(size: .bits128))
        }
    }
}
