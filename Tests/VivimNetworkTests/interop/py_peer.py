#!/usr/bin/env python3
"""Interop peer for VivimNetwork tests, built on py-libp2p (PyPI `libp2p`).

Runs an independent libp2p implementation restricted to Noise + yamux, so a
VIVIM node must speak exactly those to reach it.

  py_peer.py dial <multiaddr>   dial a VIVIM node, identify it, ping it, exit
  py_peer.py listen             listen on 127.0.0.1, print LISTEN <addr>; when a
                                peer connects, identify and ping it back; exit
                                when stdin closes

Output lines (stdout): `LISTEN <multiaddr>`, `RESULT <json>`, `ERROR <text>`.
Every wait is bounded; the process exits on its own after at most 60 s.
"""
import json
import os
import traceback
import sys

import multiaddr
import trio

from libp2p import create_yamux_muxer_option, new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.serialization import deserialize_public_key
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.host.ping import PingService
from libp2p.identity.identify.pb.identify_pb2 import Identify
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport

IDENTIFY = "/ipfs/id/1.0.0"


def emit(kind, payload):
    print(f"{kind} {payload}", flush=True)


def log(text):
    print(f"[py_peer {trio.current_time():.3f}] {text}", file=sys.stderr, flush=True)


def make_host():
    key_pair = create_new_key_pair()
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    return new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt=create_yamux_muxer_option(),
    )


def decode_varint(data):
    value, shift = 0, 0
    for i, b in enumerate(data[:9]):
        value |= (b & 0x7F) << shift
        if b & 0x80 == 0:
            return value, i + 1
        shift += 7
    raise ValueError("bad varint")


async def identify(host, peer_id):
    stream = await host.new_stream(peer_id, [IDENTIFY])
    data = b""
    with trio.fail_after(10):
        while len(data) < 65536:
            try:
                chunk = await stream.read(4096)
            except StreamEOF:
                break
            if not chunk:
                break
            data += chunk
    await stream.close()
    length, used = decode_varint(data)
    if used + length != len(data):
        raise ValueError(f"identify not varint-delimited: {len(data)} bytes, prefix {length}")
    msg = Identify()
    msg.ParseFromString(data[used:])
    return {
        "agentVersion": msg.agent_version,
        "protocolVersion": msg.protocol_version,
        "protocols": list(msg.protocols),
        "publicKeyMatches": ID.from_pubkey(deserialize_public_key(msg.public_key)) == peer_id,
        "listenAddrs": [str(multiaddr.Multiaddr(a)) for a in msg.listen_addrs],
    }


async def ping(host, peer_id, count=3):
    with trio.fail_after(10):
        rtts = await PingService(host).ping(peer_id, count)
    return rtts


async def dial(target):
    host = make_host()
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        info = info_from_p2p_addr(multiaddr.Multiaddr(target))
        with trio.fail_after(15):
            await host.connect(info)
        result = {
            "self": host.get_id().to_base58(),
            "remote": info.peer_id.to_base58(),
            "identify": await identify(host, info.peer_id),
            "ping": await ping(host, info.peer_id),
        }
        emit("RESULT", json.dumps(result))


async def listen():
    host = make_host()
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        addr = host.get_addrs()[0]
        emit("LISTEN", str(addr))
        network = host.get_network()
        with trio.fail_after(30):
            while not network.connections:
                await trio.sleep(0.05)
        peer_id = next(iter(network.connections.keys()))
        await trio.sleep(0.2)  # let the dialer's own streams start first
        log("identifying the dialer")
        identified = await identify(host, peer_id)
        log("pinging the dialer")
        rtts = await ping(host, peer_id)
        log("done")
        result = {
            "self": host.get_id().to_base58(),
            "remote": peer_id.to_base58(),
            "identify": identified,
            "ping": rtts,
        }
        emit("RESULT", json.dumps(result))
        # Stay up until the test closes our stdin (bounded by the global timeout).
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)


def main():
    if os.environ.get("PY_PEER_DEBUG"):
        import logging
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    if len(sys.argv) >= 2 and sys.argv[1] == "listen":
        run = listen
    elif len(sys.argv) == 3 and sys.argv[1] == "dial":
        async def run():
            await dial(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)

    async def bounded():
        with trio.fail_after(60):
            await run()

    try:
        trio.run(bounded)
    except BaseException as e:  # report, then fail the process
        traceback.print_exc()
        while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
            e = e.exceptions[0]
        emit("ERROR", f"{type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
