#!/usr/bin/env python3
"""Seals a VIVIM bundle with an independent implementation of docs/bundle-format.md, so the
Swift opener can be tested against a writer it did not produce (Python `cryptography` only).

usage: seal_bundle.py DIR
DIR holds request.json: {"intentId", "plaintext": base64url, "circle": {"circleId", "epoch",
"epochKey": base64url}?, "recipients": [{"recipientDid", "kem", "publicKey": base64url}]}.
Writes DIR/bundle.json, signed by a fresh owner key.
"""

import json
import os
import sys
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey, MLKEM1024PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from open_bundle import (B58, XWING_LABEL, b64url_decode, b64url_encode, digest, key_id,
                         labeled_expand, labeled_extract, sha256)


def did_of(public_key):
    raw = b"\xed\x01" + public_key
    number, text = int.from_bytes(raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = B58[digit] + text
    return "did:vivim:z" + "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + text


def xwing_encapsulate(pk):
    """draft-connolly-cfrg-xwing-kem-06 Encaps, with fresh randomness from `cryptography`."""
    pk_m, pk_x = pk[:1184], pk[1184:]
    ss_m, ct_m = MLKEM768PublicKey.from_public_bytes(pk_m).encapsulate()
    ephemeral = X25519PrivateKey.generate()
    ct_x = ephemeral.public_key().public_bytes_raw()
    ss_x = ephemeral.exchange(X25519PublicKey.from_public_bytes(pk_x))
    return digest(hashes.SHA3_256(), ss_m + ss_x + ct_x + pk_x + XWING_LABEL), ct_m + ct_x


def hpke_seal_base(shared_secret, info, aad, plaintext):
    context = b"\x00" + labeled_extract(b"", b"psk_id_hash", b"") + labeled_extract(b"", b"info_hash", info)
    secret = labeled_extract(shared_secret, b"secret", b"")
    key = labeled_expand(secret, b"key", context, 32)
    base_nonce = labeled_expand(secret, b"base_nonce", context, 12)
    return AESGCM(key).encrypt(base_nonce, plaintext, aad)


def seal_capsule(recipient, content_key, content_id):
    kem, did, pk = recipient["kem"], recipient["recipientDid"], b64url_decode(recipient["publicKey"])
    aad = did.encode()
    if kem == "X-Wing":
        ss, enc = xwing_encapsulate(pk)
        wrapped = hpke_seal_base(ss, f"vivim/capsule/v1|{content_id}".encode(), aad, content_key)
    elif kem == "ML-KEM-1024":
        ss, enc = MLKEM1024PublicKey.from_public_bytes(pk).encapsulate()
        info = f"vivim/capsule/v1/ml-kem-1024|{content_id}".encode()
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ss)
        wrapped = AESGCM(kek).encrypt(b"\x00" * 12, content_key, aad)
    else:
        raise ValueError(kem)
    return {"recipientDid": did, "kem": kem, "keyId": key_id(kem, pk), "enc": b64url_encode(enc),
            "wrapped": b64url_encode(wrapped)}


def main(directory):
    with open(os.path.join(directory, "request.json")) as handle:
        request = json.load(handle)
    owner = Ed25519PrivateKey.generate()
    owner_did = did_of(owner.public_key().public_bytes_raw())
    intent_id, plaintext = request["intentId"], b64url_decode(request["plaintext"])
    created_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    content_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    aad = f"vivim/bundle/v1|{intent_id}|{owner_did}".encode()
    ciphertext = AESGCM(content_key).encrypt(nonce, plaintext, aad)
    content_id = sha256(ciphertext).hex()

    bundle = {
        "version": 1, "contentId": content_id, "intentId": intent_id, "ownerDid": owner_did,
        "createdAt": created_at, "algorithm": "AES-256-GCM", "nonce": b64url_encode(nonce),
        "ciphertext": b64url_encode(ciphertext),
        "keyCapsules": [seal_capsule(r, content_key, content_id) for r in request["recipients"]],
        "metadata": {"contentHash": sha256(plaintext).hex(), "size": len(plaintext),
                     "contentType": "conversation", "transformations": []},
        "discoveryMetadata": {"contentType": "conversation", "tags": [], "createdAt": created_at,
                              "authorDid": owner_did},
    }
    if "circle" in request:
        circle = request["circle"]
        wrap_nonce = os.urandom(12)
        wrap_aad = f"vivim/epoch-wrap/v1|{circle['circleId']}|{circle['epoch']}|{content_id}".encode()
        wrapped = AESGCM(b64url_decode(circle["epochKey"])).encrypt(wrap_nonce, content_key, wrap_aad)
        bundle["epochCapsules"] = [{"circleId": circle["circleId"], "epoch": circle["epoch"],
                                    "nonce": b64url_encode(wrap_nonce), "wrapped": b64url_encode(wrapped)}]
    message = f"vivim/bundle/v1|{content_id}|{intent_id}|{owner_did}|{created_at}".encode()
    bundle["signature"] = b64url_encode(owner.sign(message))
    with open(os.path.join(directory, "bundle.json"), "w") as handle:
        json.dump(bundle, handle)
    print(f"sealed {content_id} for {len(bundle['keyCapsules'])} recipients")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
