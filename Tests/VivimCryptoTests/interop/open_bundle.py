#!/usr/bin/env python3
"""Opens VIVIM bundles with an independent implementation of docs/bundle-format.md.

Uses only Python's `cryptography` (>= 46) for primitives: ML-KEM-768/1024, X25519, SHA3-256,
SHAKE256, SHA-256, HMAC, HKDF, AES-256-GCM and Ed25519. The X-Wing combiner
(draft-connolly-cfrg-xwing-kem-06) and the HPKE key schedule (RFC 9180 §5.1, base mode) are
written out here from the documents, so a bundle that opens proves the Swift side follows them.

usage: open_bundle.py [--explain] DIR
DIR holds manifest.json: {"cases": [{"name", "bundle": file, "open": {...}, "expect": ...}]}
with "open" one of
  {"kind": "recipient", "recipientDid", "kem", "secretKey"}                 (a key capsule)
  {"kind": "epoch", "epochKeyCapsule": {...}, "kem", "secretKey"}            (a circle member)
  {"kind": "link", "fragment"}                                               (public / ZK link)
and "expect" either {"plaintext": base64url} or "reject". Exit status 0 iff every case
behaves as expected.
"""

import json
import os
import sys

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM1024PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

EXPLAIN = False


class Rejected(Exception):
    """The bundle (or capsule) failed a check of docs/bundle-format.md."""


def show(label, value):
    if EXPLAIN:
        if isinstance(value, (bytes, bytearray)):
            value = f"{value.hex()}  ({len(value)} bytes)"
        print(f"    {label}: {value}")


# --- encodings -------------------------------------------------------------------------------

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64url_decode(text):
    """base64url without padding, strictly (RFC 4648 §5)."""
    if not isinstance(text, str) or any(c not in B64URL for c in text) or len(text) % 4 == 1:
        raise Rejected(f"not base64url without padding: {text!r:.40}")
    bits, n, out = 0, 0, bytearray()
    for c in text:
        bits = (bits << 6) | B64URL.index(c)
        n += 6
        if n >= 8:
            n -= 8
            out.append((bits >> n) & 0xFF)
    if bits & ((1 << n) - 1):
        raise Rejected("non-canonical base64url (trailing bits)")
    return bytes(out)


def b64url_encode(data):
    out, bits, n = [], 0, 0
    for byte in data:
        bits = (bits << 8) | byte
        n += 8
        while n >= 6:
            n -= 6
            out.append(B64URL[(bits >> n) & 0x3F])
    if n:
        out.append(B64URL[(bits << (6 - n)) & 0x3F])
    return "".join(out)


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def ed25519_key_of_did(did):
    """did:vivim:z<base58btc(0xed 0x01 || 32-byte Ed25519 key)>."""
    prefix = "did:vivim:z"
    if not did.startswith(prefix):
        raise Rejected(f"not a canonical did:vivim DID: {did}")
    number = 0
    for c in did[len(prefix):]:
        if c not in B58:
            raise Rejected("DID is not base58btc")
        number = number * 58 + B58.index(c)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    leading = len(did[len(prefix):]) - len(did[len(prefix):].lstrip("1"))
    raw = b"\x00" * leading + body
    if len(raw) != 34 or raw[:2] != b"\xed\x01":
        raise Rejected("DID is not a multicodec ed25519-pub key")
    return raw[2:]


# --- primitives from `cryptography` ------------------------------------------------------------

def rfc3339_seconds(text):
    """RFC 3339 UTC ("Z") to Unix seconds; fractional seconds allowed."""
    from datetime import datetime, timezone
    if not isinstance(text, str) or not text.endswith("Z"):
        raise Rejected(f"not an RFC 3339 UTC time: {text!r:.40}")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise Rejected(f"not an RFC 3339 UTC time: {text!r:.40}")


def digest(algorithm, data):
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def sha256(data):
    return digest(hashes.SHA256(), data)


def hkdf_extract(salt, ikm):
    """RFC 5869 §2.2: HMAC-Hash(salt, IKM); an empty salt is HashLen zero bytes."""
    h = hmac.HMAC(salt if salt else b"\x00" * 32, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def hkdf_expand(prk, info, length):
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=info).derive(prk)


# --- X-Wing (draft-connolly-cfrg-xwing-kem-06) -------------------------------------------------

XWING_LABEL = bytes.fromhex("5c2e2f2f5e5c")  # "\.//^\"
MLKEM768_CIPHERTEXT = 1088


def xwing_expand(seed):
    """expandDecapsulationKey: SHAKE256(seed, 96) = ML-KEM-768 (d || z) || X25519 secret."""
    if len(seed) != 32:
        raise Rejected("X-Wing secret keys are 32-byte seeds")
    expanded = digest(hashes.SHAKE256(digest_size=96), seed)
    sk_m = MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    sk_x = X25519PrivateKey.from_private_bytes(expanded[64:96])
    pk_m = sk_m.public_key().public_bytes_raw()
    pk_x = sk_x.public_key().public_bytes_raw()
    return sk_m, sk_x, pk_m + pk_x


def xwing_decapsulate(seed, ct):
    if len(ct) != MLKEM768_CIPHERTEXT + 32:
        raise Rejected("X-Wing ciphertexts are 1120 bytes")
    sk_m, sk_x, pk = xwing_expand(seed)
    ct_m, ct_x = ct[:MLKEM768_CIPHERTEXT], ct[MLKEM768_CIPHERTEXT:]
    ss_m = sk_m.decapsulate(ct_m)
    try:
        ss_x = sk_x.exchange(X25519PublicKey.from_public_bytes(ct_x))
    except ValueError as error:  # an all-zero X25519 output
        raise Rejected(f"X25519: {error}")
    pk_x = pk[-32:]
    ss = digest(hashes.SHA3_256(), ss_m + ss_x + ct_x + pk_x + XWING_LABEL)
    show("ML-KEM-768 shared secret ss_M", ss_m)
    show("X25519 shared secret ss_X", ss_x)
    show("X-Wing shared secret = SHA3-256(ss_M||ss_X||ct_X||pk_X||label)", ss)
    return ss


# --- HPKE base mode (RFC 9180 §4, §5.1) with KEM 0x647a, HKDF-SHA256, AES-256-GCM ------------

def i2osp(value, length):
    return value.to_bytes(length, "big")


HPKE_SUITE_ID = b"HPKE" + i2osp(0x647A, 2) + i2osp(0x0001, 2) + i2osp(0x0002, 2)


def labeled_extract(salt, label, ikm):
    return hkdf_extract(salt, b"HPKE-v1" + HPKE_SUITE_ID + label + ikm)


def labeled_expand(prk, label, info, length):
    return hkdf_expand(prk, i2osp(length, 2) + b"HPKE-v1" + HPKE_SUITE_ID + label + info, length)


def hpke_open_base(shared_secret, info, aad, ciphertext):
    mode_base = b"\x00"
    psk_id_hash = labeled_extract(b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(b"", b"info_hash", info)
    context = mode_base + psk_id_hash + info_hash
    secret = labeled_extract(shared_secret, b"secret", b"")
    key = labeled_expand(secret, b"key", context, 32)
    base_nonce = labeled_expand(secret, b"base_nonce", context, 12)
    show("HPKE key_schedule_context", context)
    show("HPKE secret", secret)
    show("HPKE key", key)
    show("HPKE base_nonce (sequence 0)", base_nonce)
    return aes_gcm_open(key, base_nonce, ciphertext, aad)


def aes_gcm_open(key, nonce, ciphertext, aad):
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise Rejected("AES-GCM authentication failed")


# --- capsules ----------------------------------------------------------------------------------

def key_id(kem, public_key):
    return b64url_encode(sha256(kem.encode() + b"\x00" + public_key)[:16])


def public_key_of(kem, secret):
    if kem == "X-Wing":
        return xwing_expand(secret)[2]
    if kem == "ML-KEM-1024":
        return MLKEM1024PrivateKey.from_seed_bytes(secret).public_key().public_bytes_raw()
    raise Rejected(f"unknown kem {kem}")


def open_capsule(kem, secret, enc, wrapped, recipient_did, xwing_info, mlkem_info):
    """Both suites wrap a 32-byte key with aad = UTF-8 of the recipient DID."""
    aad = recipient_did.encode()
    show("capsule aad", aad.decode())
    if len(wrapped) != 48:
        raise Rejected("wrapped keys are 48 bytes")
    if kem == "X-Wing":
        show("HPKE info", xwing_info.decode())
        key = hpke_open_base(xwing_decapsulate(secret, enc), xwing_info, aad, wrapped)
    elif kem == "ML-KEM-1024":
        if len(enc) != 1568:
            raise Rejected("ML-KEM-1024 ciphertexts are 1568 bytes")
        ss = MLKEM1024PrivateKey.from_seed_bytes(secret).decapsulate(enc)
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=mlkem_info).derive(ss)
        show("ML-KEM-1024 shared secret", ss)
        show("HKDF info", mlkem_info.decode())
        show("kek", kek)
        key = aes_gcm_open(kek, b"\x00" * 12, wrapped, aad)
    else:
        raise Rejected(f"unknown kem {kem}")
    if len(key) != 32:
        raise Rejected("a wrapped key must be 32 bytes")
    return key


# --- bundles -----------------------------------------------------------------------------------

def verify(bundle):
    """Everything that needs no key: format, contentId, the owner's signature."""
    if bundle.get("version") != 1 or bundle.get("algorithm") != "AES-256-GCM":
        raise Rejected("unsupported version or algorithm")
    for field in ("contentId", "intentId", "ownerDid", "createdAt"):
        if not isinstance(bundle.get(field), str) or "|" in bundle[field]:
            raise Rejected(f"{field} missing or contains '|'")
    ciphertext = b64url_decode(bundle["ciphertext"])
    nonce = b64url_decode(bundle["nonce"])
    if len(nonce) != 12 or len(ciphertext) < 16:
        raise Rejected("bad nonce or ciphertext length")
    content_id = sha256(ciphertext).hex()
    show("SHA-256(ciphertext)", content_id)
    if content_id != bundle["contentId"]:
        raise Rejected("contentId is not the SHA-256 of the ciphertext")
    message = "|".join(["vivim/bundle/v1", bundle["contentId"], bundle["intentId"], bundle["ownerDid"],
                        bundle["createdAt"]]).encode()
    show("signature input", message.decode())
    owner_key = ed25519_key_of_did(bundle["ownerDid"])
    show("owner Ed25519 public key", owner_key)
    signer_key = owner_key
    delegation = bundle.get("delegation")
    if delegation is not None:
        # §2.1: the owner's key signed a delegation to the key that signed the bundle.
        delegate_key = b64url_decode(delegation.get("delegateKey"))
        not_after = delegation.get("notAfter")
        if len(delegate_key) != 32 or not isinstance(not_after, str) or "|" in not_after:
            raise Rejected("malformed delegation")
        statement = "|".join(["vivim/delegation/v1", bundle["ownerDid"], b64url_encode(delegate_key), not_after]).encode()
        show("delegation input", statement.decode())
        try:
            Ed25519PublicKey.from_public_bytes(owner_key).verify(b64url_decode(delegation.get("signature")), statement)
        except InvalidSignature:
            raise Rejected("delegation does not verify against ownerDid")
        if rfc3339_seconds(bundle["createdAt"]) > rfc3339_seconds(not_after):
            raise Rejected("bundle created after its delegation ended")
        show("delegate Ed25519 public key", delegate_key)
        signer_key = delegate_key
    try:
        Ed25519PublicKey.from_public_bytes(signer_key).verify(b64url_decode(bundle["signature"]), message)
    except InvalidSignature:
        raise Rejected("signature does not verify against ownerDid" + (" (through its delegation)" if delegation else ""))
    show("signature", "valid")
    return nonce, ciphertext


def decrypt(bundle, nonce, ciphertext, content_key):
    aad = f"vivim/bundle/v1|{bundle['intentId']}|{bundle['ownerDid']}".encode()
    show("content key", content_key)
    show("content aad", aad.decode())
    plaintext = aes_gcm_open(content_key, nonce, ciphertext, aad)
    if sha256(plaintext).hex() != bundle["metadata"]["contentHash"] or len(plaintext) != bundle["metadata"]["size"]:
        raise Rejected("contentHash or size does not match the plaintext")
    show("SHA-256(plaintext) = contentHash", bundle["metadata"]["contentHash"])
    return plaintext


def open_case(bundle, how):
    nonce, ciphertext = verify(bundle)
    content_id = bundle["contentId"]
    kind = how["kind"]
    if kind == "recipient":
        kem, did, secret = how["kem"], how["recipientDid"], b64url_decode(how["secretKey"])
        wanted = key_id(kem, public_key_of(kem, secret))
        show("recipient keyId", wanted)
        capsules = [c for c in bundle["keyCapsules"] if c["recipientDid"] == did and c["keyId"] == wanted]
        if len(capsules) != 1 or capsules[0]["kem"] != kem:
            raise Rejected("no capsule for this recipient")
        capsule = capsules[0]
        content_key = open_capsule(
            kem, secret, b64url_decode(capsule["enc"]), b64url_decode(capsule["wrapped"]), did,
            f"vivim/capsule/v1|{content_id}".encode(), f"vivim/capsule/v1/ml-kem-1024|{content_id}".encode())
    elif kind == "epoch":
        member = how["epochKeyCapsule"]
        kem, secret = how["kem"], b64url_decode(how["secretKey"])
        circle, epoch = member["circleId"], member["epoch"]
        if member["kem"] != kem or member["keyId"] != key_id(kem, public_key_of(kem, secret)):
            raise Rejected("epoch key capsule is not for this key")
        epoch_key = open_capsule(
            kem, secret, b64url_decode(member["enc"]), b64url_decode(member["wrapped"]), member["recipientDid"],
            f"vivim/epoch-key/v1|{circle}|{epoch}".encode(),
            f"vivim/epoch-key/v1/ml-kem-1024|{circle}|{epoch}".encode())
        show("epoch key", epoch_key)
        matches = [c for c in bundle.get("epochCapsules", []) if c["circleId"] == circle and c["epoch"] == epoch]
        if len(matches) != 1:
            raise Rejected("no epoch capsule for this circle epoch")
        aad = f"vivim/epoch-wrap/v1|{circle}|{epoch}|{content_id}".encode()
        show("epoch wrap aad", aad.decode())
        content_key = aes_gcm_open(epoch_key, b64url_decode(matches[0]["nonce"]), b64url_decode(matches[0]["wrapped"]), aad)
    elif kind == "link":
        content_key = b64url_decode(how["fragment"])
        if len(content_key) != 32:
            raise Rejected("a link key is 32 bytes")
    else:
        raise ValueError(f"unknown case kind {kind}")
    return decrypt(bundle, nonce, ciphertext, content_key)


def self_test():
    """This file's X-Wing against the draft's own test vectors, before trusting it on bundles."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xwing-draft-vectors.json")
    with open(path) as handle:
        vectors = json.load(handle)["vectors"]
    explain, globals()["EXPLAIN"] = EXPLAIN, False
    try:
        for vector in vectors:
            seed = bytes.fromhex(vector["sk"])
            if xwing_expand(seed)[2] != bytes.fromhex(vector["pk"]):
                raise SystemExit("self-test: X-Wing public key differs from the draft's vector")
            if xwing_decapsulate(seed, bytes.fromhex(vector["ct"])) != bytes.fromhex(vector["ss"]):
                raise SystemExit("self-test: X-Wing shared secret differs from the draft's vector")
    finally:
        globals()["EXPLAIN"] = explain
    print(f"self-test: X-Wing matches {len(vectors)} draft-connolly-cfrg-xwing-kem-06 vectors")


def main(argv):
    global EXPLAIN
    args = [a for a in argv[1:] if a != "--explain"]
    EXPLAIN = len(args) != len(argv) - 1
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    directory = args[0]
    self_test()
    with open(os.path.join(directory, "manifest.json")) as handle:
        cases = json.load(handle)["cases"]
    failures = 0
    for case in cases:
        with open(os.path.join(directory, case["bundle"])) as handle:
            bundle = json.load(handle)
        if EXPLAIN:
            print(f"== {case['name']}")
        try:
            plaintext = open_case(bundle, case["open"])
            outcome = ("opened", plaintext)
        except Rejected as error:
            outcome = ("rejected", str(error))
        expected = case["expect"]
        if expected == "reject":
            ok = outcome[0] == "rejected"
        else:
            ok = outcome[0] == "opened" and outcome[1] == b64url_decode(expected["plaintext"])
        failures += 0 if ok else 1
        detail = outcome[1] if outcome[0] == "rejected" else f"{len(outcome[1])} bytes"
        print(f"{'ok  ' if ok else 'FAIL'} {case['name']}: {outcome[0]} ({detail})")
    print(f"{len(cases) - failures}/{len(cases)} cases as expected")
    return 1 if failures or not cases else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
