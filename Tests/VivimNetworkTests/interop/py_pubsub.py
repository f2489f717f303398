#!/usr/bin/env python3
"""Gossipsub interop peer for VivimNetwork tests (py-libp2p GossipSub, `/meshsub/1.1.0`,
StrictSign).

  py_pubsub.py <vivim-multiaddr>|listen <topic>

Connects to the VIVIM node over Noise + yamux (or, given `listen`, waits to be
dialled), subscribes to <topic>, prints `READY <own peer id> <own multiaddr>`, then prints `MSG <author peer id> <data hex>` for every
message it receives and publishes one message per stdin line `publish <hex>`
(answering `PUBLISHED`). Exits on EOF of stdin or after 60 s.
"""
import sys
import traceback

import multiaddr
import trio

from libp2p import create_yamux_muxer_option, new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.tools.anyio_service import background_trio_service


def emit(line):
    print(line, flush=True)


async def main(target, topic):
    key_pair = create_new_key_pair()
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
        muxer_opt=create_yamux_muxer_option(),
    )
    gossipsub = GossipSub(protocols=[PROTOCOL_ID_V11], degree=6, degree_low=5, degree_high=12,
                          heartbeat_interval=1, heartbeat_initial_delay=0.1)
    pubsub = Pubsub(host, gossipsub, strict_signing=True)
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        async with background_trio_service(pubsub), background_trio_service(gossipsub):
            await pubsub.wait_until_ready()
            subscription = await pubsub.subscribe(topic)
            if target != "listen":
                info = info_from_p2p_addr(multiaddr.Multiaddr(target))
                with trio.fail_after(15):
                    await host.connect(info)
            emit(f"READY {host.get_id().to_base58()} {host.get_addrs()[0]}")

            async def receive():
                while True:
                    msg = await subscription.get()
                    emit(f"MSG {ID(msg.from_id).to_base58()} {msg.data.hex()}")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                while True:
                    line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
                    if not line:
                        nursery.cancel_scope.cancel()
                        return
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == "publish":
                        await pubsub.publish(topic, bytes.fromhex(parts[1]))
                        emit("PUBLISHED")
                    else:
                        emit("ERROR bad command")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)

    async def bounded():
        with trio.move_on_after(60):
            await main(sys.argv[1], sys.argv[2])

    try:
        trio.run(bounded)
    except BaseException as e:
        traceback.print_exc()
        while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
            e = e.exceptions[0]
        emit(f"ERROR {type(e).__name__}: {e}")
        sys.exit(1)
