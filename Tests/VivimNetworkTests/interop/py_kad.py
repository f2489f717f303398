#!/usr/bin/env python3
"""Kademlia interop peer for VivimNetwork tests, built on py-libp2p's KadDHT.

  py_kad.py <vivim-multiaddr>|listen

Starts a py-libp2p host (Noise + yamux) running `/ipfs/kad/1.0.0` in server
mode, connects to the VIVIM node (or, given `listen`, waits to be dialled) and
prints `READY <own multiaddr>`. Then it executes one command per stdin line and
answers with one stdout line:

  provide <key-hex>           ADD_PROVIDER via the DHT      -> OK <bool>
  addlocalprov <key-hex>      this host as provider, stored locally only (no network) -> OK True
  findprov <key-hex>          GET_PROVIDERS lookup          -> PROVIDERS <id,id,...>
  localprov <key-hex>         providers stored locally      -> PROVIDERS <id,id,...>
  findnode <key-hex>          FIND_NODE lookup              -> PEERS <id,id,...>
  routing <any>               peers in the routing table    -> PEERS <id,id,...>
  putpk <any>                 put_value of this host's own public-key record
                              (`/pk/<hex of peer id>`)      -> OK <key-hex> <value-hex>
  putvalue <key-hex> <value-hex>  put_value(key.decode())   -> OK <bool>
  getvalue <key-hex>          get_value(key.decode())       -> VALUE <value-hex or NONE>
  localvalue <key-hex>        value stored locally          -> VALUE <value-hex or NONE>

Errors print `ERROR <text>`. Exits on EOF of stdin or after 60 s.
"""
import sys
import traceback

import multiaddr
import trio

from libp2p import create_yamux_muxer_option, new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.tools.anyio_service import background_trio_service


def emit(line):
    print(line, flush=True)


def ids(peers):
    return ",".join(p.to_base58() if hasattr(p, "to_base58") else p.peer_id.to_base58() for p in peers)


async def main(target):
    key_pair = create_new_key_pair()
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
        muxer_opt=create_yamux_muxer_option(),
    )
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        dht = KadDHT(host, DHTMode.SERVER)
        async with background_trio_service(dht):
            if target != "listen":
                info = info_from_p2p_addr(multiaddr.Multiaddr(target))
                with trio.fail_after(15):
                    await host.connect(info)
                    await dht.add_peer(info.peer_id)
            emit(f"READY {host.get_addrs()[0]}")
            while True:
                line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
                if not line:
                    return
                parts = line.split()
                if len(parts) not in (2, 3):
                    emit("ERROR bad command")
                    continue
                command, key_hex = parts[0], parts[1]
                key = bytes.fromhex(key_hex) if command not in ("routing", "putpk") else b""
                try:
                    with trio.fail_after(15):
                        if command == "provide":
                            emit(f"OK {await dht.provide(key_hex)}")
                        elif command == "findprov":
                            emit(f"PROVIDERS {ids(await dht.find_providers(key_hex))}")
                        elif command == "localprov":
                            emit(f"PROVIDERS {ids(dht.provider_store.get_providers(key))}")
                        elif command == "findnode":
                            emit(f"PEERS {ids(await dht.peer_routing.find_closest_peers_network(key))}")
                        elif command == "addlocalprov":
                            dht.provider_store.add_provider(key, PeerInfo(host.get_id(), host.get_addrs()))
                            emit("OK True")
                        elif command == "routing":
                            emit(f"PEERS {ids(dht.routing_table.get_peer_ids())}")
                        elif command == "putpk":
                            pk_key = "/pk/" + host.get_id().to_bytes().hex()
                            value = host.get_public_key().serialize()
                            await dht.put_value(pk_key, value)
                            emit(f"OK {pk_key.encode().hex()} {value.hex()}")
                        elif command == "putvalue" and len(parts) == 3:
                            await dht.put_value(key.decode(), bytes.fromhex(parts[2]))
                            emit("OK True")
                        elif command == "getvalue":
                            value = await dht.get_value(key.decode())
                            emit(f"VALUE {value.hex() if value else 'NONE'}")
                        elif command == "localvalue":
                            record = dht.value_store.get(key)
                            emit(f"VALUE {record.value.hex() if record else 'NONE'}")
                        else:
                            emit("ERROR unknown command")
                except Exception as e:  # keep serving; the test decides
                    traceback.print_exc()
                    emit(f"ERROR {type(e).__name__}: {e}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)

    async def bounded():
        with trio.move_on_after(60):
            await main(sys.argv[1])

    try:
        trio.run(bounded)
    except BaseException as e:
        traceback.print_exc()
        while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
            e = e.exceptions[0]
        emit(f"ERROR {type(e).__name__}: {e}")
        sys.exit(1)
