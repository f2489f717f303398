#!/usr/bin/env python3
"""An outside client of the VIVIM HTTP API, written from SPEC.md alone.

Its own base58btc and multicodec code, Ed25519 and ML-KEM-1024 from Python's
`cryptography`, plain urllib for HTTP. It registers two users, logs in, verifies the
JWT against /.well-known/jwks.json, imports a conversation and reads it back, manages
a circle, and checks that the second user cannot read the first user's content.

Usage: outside_client.py http://127.0.0.1:PORT     (exit 0 on success)
"""
import base64
import json
import sys
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = ALPHABET[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Server:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, body=None, token=None, expect=200):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("X-Request-ID", "outside-client-%d" % int(time.time() * 1000))
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        payload = json.loads(raw)
        assert status == expect, f"{method} {path}: expected {expect}, got {status}: {payload}"
        if path.startswith("/api/"):
            assert payload["success"] == (status < 400), payload
            assert payload["meta"]["requestId"].startswith("outside-client-"), payload["meta"]
        return payload


class User:
    def __init__(self, name):
        self.name = name
        self.signing = Ed25519PrivateKey.generate()
        public = self.signing.public_key().public_bytes_raw()
        self.did = "did:vivim:z" + b58encode(bytes([0xED, 0x01]) + public)
        self.kem = mlkem.MLKEM1024PrivateKey.generate()
        self.token = None

    def sign(self, text: str) -> str:
        return b64url(self.signing.sign(text.encode()))

    def register(self, server):
        key = b64url(self.kem.public_key().public_bytes_raw())
        proof = self.sign(f"vivim/register/v1|{self.did}|ML-KEM-1024|{key}|py-device")
        body = {"did": self.did, "displayName": self.name, "encryptionKey": {"alg": "ML-KEM-1024", "key": key},
                "device": {"deviceId": "py-device", "name": "python"}, "proof": proof}
        data = server.call("POST", "/api/v1/auth/register", body, expect=201)["data"]
        assert data["did"] == self.did and data["encryptionKey"]["alg"] == "ML-KEM-1024"

    def login(self, server):
        challenge = server.call("POST", "/api/v1/auth/challenge", {"did": self.did})["data"]
        assert challenge["expiresIn"] == 300 and len(b64url_decode(challenge["challenge"])) == 32
        signature = self.sign(f"vivim/auth/v1|{challenge['challenge']}|{self.did}")
        verified = server.call("POST", "/api/v1/auth/verify",
                               {"did": self.did, "challenge": challenge["challenge"], "signature": signature, "deviceId": "py-device"})["data"]
        self.token = verified["token"]
        # The challenge is single use.
        replay = server.call("POST", "/api/v1/auth/verify",
                             {"did": self.did, "challenge": challenge["challenge"], "signature": signature}, expect=401)
        assert replay["error"]["code"] == "UNAUTHORIZED"
        return verified


def verify_jwt(token, jwks, did):
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    payload = json.loads(b64url_decode(payload_b64))
    assert header["alg"] == "EdDSA", header
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
    Ed25519PublicKey.from_public_bytes(b64url_decode(key["x"])).verify(
        b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode())
    assert payload["sub"] == did and payload["sid"] and payload["exp"] > time.time() and payload["iat"] <= time.time() + 5
    return payload


def main(base):
    server = Server(base)
    assert server.call("GET", "/health")["data"]["status"] == "ok"
    alice, bob = User("Alice"), User("Bob")
    for user in (alice, bob):
        user.register(server)
        user.login(server)
    jwks = server.call("GET", "/.well-known/jwks.json")
    claims = verify_jwt(alice.token, jwks, alice.did)

    # A tampered token is refused.
    head, body, sig = alice.token.split(".")
    forged = json.loads(b64url_decode(body))
    forged["sub"] = bob.did
    server.call("GET", "/api/v1/users/me", token=f"{head}.{b64url(json.dumps(forged).encode())}.{sig}", expect=401)

    me = server.call("GET", "/api/v1/users/me", token=alice.token)["data"]
    assert me["did"] == alice.did and me["devices"][0]["deviceId"] == "py-device"
    profile = server.call("GET", "/api/v1/users/" + bob.did, token=alice.token)["data"]
    assert profile["encryptionKey"]["key"] == b64url(bob.kem.public_key().public_bytes_raw())

    conversation = {"provider": "claude", "title": "Outside client", "model": "opus", "createdAt": "2026-03-01T10:00:00Z",
                    "messages": [{"role": "user", "content": "Explain Kademlia in one line."},
                                 {"role": "assistant", "content": "XOR distance.\n\n```python\nprint(1 ^ 2)\n```"}]}
    imported = server.call("POST", "/api/v1/conversations", conversation, token=alice.token, expect=201)["data"]
    assert imported["counts"]["messageCount"] == 2 and imported["counts"]["codeBlockCount"] == 1
    read = server.call("GET", "/api/v1/conversations/" + imported["id"], token=alice.token)["data"]
    assert [m["content"][0]["text"] for m in read["messages"]] == [m["content"] for m in conversation["messages"]]
    assert read["conversation"]["privacyLevel"] == "LOCAL"
    acus = server.call("GET", "/api/v1/acus?conversationId=" + imported["id"], token=alice.token)
    assert [a["type"] for a in acus["data"]] == ["paragraph", "paragraph", "code"] and acus["meta"]["pagination"]["totalItems"] == 3
    assert server.call("GET", "/api/v1/search?q=kademlia", token=alice.token)["data"][0]["conversationId"] == imported["id"]
    # Bob cannot read it.
    assert server.call("GET", "/api/v1/conversations/" + imported["id"], token=bob.token, expect=404)["error"]["code"] == "NOT_FOUND"
    assert server.call("GET", "/api/v1/search?q=kademlia", token=bob.token)["data"] == []

    circle = server.call("POST", "/api/v1/circles", {"name": "Readers", "isPrivate": True}, token=alice.token, expect=201)["data"]
    server.call("GET", "/api/v1/circles/" + circle["id"], token=bob.token, expect=404)
    server.call("POST", f"/api/v1/circles/{circle['id']}/members", {"did": bob.did, "role": "member"}, token=alice.token, expect=201)
    seen = server.call("GET", "/api/v1/circles/" + circle["id"], token=bob.token)["data"]
    assert seen["myRole"] == "member" and seen["memberCount"] == 2
    server.call("PATCH", "/api/v1/circles/" + circle["id"], {"name": "Nope"}, token=bob.token, expect=403)
    server.call("DELETE", f"/api/v1/circles/{circle['id']}/members/{bob.did}", token=bob.token)  # leave
    server.call("GET", "/api/v1/circles/" + circle["id"], token=bob.token, expect=404)

    # Logging out revokes the session at once.
    server.call("POST", "/api/v1/auth/logout", token=alice.token)
    server.call("GET", "/api/v1/users/me", token=alice.token, expect=401)
    print(f"outside client: ok (sid {claims['sid']})")


if __name__ == "__main__":
    main(sys.argv[1])
