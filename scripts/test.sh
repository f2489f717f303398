#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what the tests need (Debian
# packages, Python packages), starts a throwaway PostgreSQL on a free loopback port,
# builds, runs every test against it, and stops it again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

# 1. System packages.
need=()
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# Headless Chromium + chromedriver for the zero-knowledge link viewer check (Tests/clients/ZK-VIEWER.md).
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s chromium-driver >/dev/null 2>&1 || need+=(chromium-driver)
# `ip` for the mDNS test in a private network namespace (MDNSProcessTests; it fails under CI=true without it).
dpkg -s iproute2 >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
export VIVIM_CHROMIUM="${VIVIM_CHROMIUM:-$(command -v chromium || true)}"
export VIVIM_CHROMEDRIVER="${VIVIM_CHROMEDRIVER:-$(command -v chromedriver || true)}"

# 2. Python packages for the outside client and the interop tests (cryptography with
#    ML-KEM, py-libp2p), in a virtual environment under .build/ that comes first on PATH.
VENV=.build/python
if ! "$VENV/bin/python" -c 'import libp2p, selenium; from cryptography.hazmat.primitives.asymmetric import mlkem' 2>/dev/null; then
  log "installing Python test dependencies into $VENV"
  python3 -m venv "$VENV" || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q -r scripts/python-requirements.txt
fi
export PATH="$PWD/$VENV/bin:$PATH"
export VIVIM_PYTHON="$PWD/$VENV/bin/python"

# 3. A throwaway PostgreSQL on 127.0.0.1, as the postgres user (it refuses root).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PG_DIR=$(mktemp -d /tmp/vivim-pg.XXXXXX)
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$PG_DIR"
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi
cleanup() {
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT
log "starting PostgreSQL ($("$PG_BIN/postgres" --version)) on 127.0.0.1:$PG_PORT"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
"$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -t 30 >/dev/null
export VIVIM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

# 4. Build once (the executable too: the crash-safety test runs it), then test.
log "building"
swift build --build-tests
log "tests against the real PostgreSQL server"
swift test --skip-build --filter PostgreSQL 2>&1 | tee "$PG_DIR/pg-tests.log"
# The P2P tests run real sockets with timeouts; they get the machine to themselves rather
# than share two cores with the crash-safety and load tests.
# They run in parts: the CPU-bound ones (state machines, property and flood tests,
# simulations) first, then the timed ones on real sockets and processes in three groups,
# each small enough not to starve the others of the two cores and miss their deadlines.
SOCKETS='VivimNetworkTests\.[A-Za-z]*(HostSocket|ContentTransferSocket|DHTServiceSocket|PubSubServiceSocket|StorageHardeningSocket|ConnectionLimit)'
NODES='VivimNetworkTests\.[A-Za-z]*(StorageServiceSocket|PyLibp2p|NetworkIntegration|SyncNode|NodeOrchestration|NodeClock|MDNSProcess|OrchestrationService)'
PROCESSES='VivimNetworkTests\.[A-Za-z]*(NodeRestart|NodeProcess)'
RESTARTS='VivimNetworkTests\.NodeRestartTests'
TWENTY='VivimNetworkTests\.NodeProcessTests'
log "network tests: state machines, property and flood tests, simulations"
swift test --skip-build --filter VivimNetworkTests --skip "$SOCKETS" --skip "$NODES" --skip "$PROCESSES" --skip SoakTests \
  2>&1 | tee "$PG_DIR/network-core-tests.log"
log "network tests: hosts on real sockets"
swift test --skip-build --filter "$SOCKETS" 2>&1 | tee "$PG_DIR/network-sockets-tests.log"
log "network tests: whole nodes, py-libp2p interop"
swift test --skip-build --filter "$NODES" 2>&1 | tee "$PG_DIR/network-nodes-tests.log"
# Restarts and the 20 node processes run one after the other: together on two cores,
# 20 debug node processes starve the restart tests' timers and the reverse.
log "network tests: restarts"
swift test --skip-build --filter "$RESTARTS" 2>&1 | tee "$PG_DIR/network-restart-tests.log"
log "network tests: 20 node processes"
swift test --skip-build --filter "$TWENTY" 2>&1 | tee "$PG_DIR/network-tests.log"
# The soak test (50 hostile peers against one node process for 60 s) loads both cores by
# design, so it runs alone: sharing them would starve the timed socket tests above.
log "soak test (50 hostile peers, 10 honest, ${VIVIM_SOAK_SECONDS:-60} s)"
swift test --skip-build --filter SoakTests 2>&1 | tee "$PG_DIR/soak-tests.log"
log "all other tests"
swift test --skip-build --skip PostgreSQL --skip VivimNetworkTests 2>&1 | tee "$PG_DIR/other-tests.log"

# 5. A short libFuzzer run of every network decoder (the Fuzz package builds the shipped
#    sources with -sanitize=fuzzer,address); a crash fails the suite. Seeds: Fuzz/corpus.
log "libFuzzer: building the decoders with -sanitize=fuzzer,address"
(cd Fuzz && swift build -c debug -Xswiftc -sanitize=fuzzer,address --product FuzzDecoders 2>&1 | tail -n 1)
FUZZ_SECONDS="${VIVIM_FUZZ_SECONDS:-10}"
# A fixed seed keeps CI repeatable; longer random runs are a development task (Fuzz/README.md).
FUZZ_SEED="${VIVIM_FUZZ_SEED:-1}"
for target in kad identify noise-payload multiaddr peerid multistream yamux pubsub content dns connection \
              content-record kad-node revocation storage-index sync crdt frames; do
  work="$PG_DIR/fuzz-$target"; mkdir -p "$work"
  [ -d "Fuzz/corpus/$target" ] && cp -r "Fuzz/corpus/$target/." "$work/"
  FUZZ_TARGET=$target Fuzz/.build/debug/FuzzDecoders "$work" -max_total_time="$FUZZ_SECONDS" -seed="$FUZZ_SEED" -rss_limit_mb=2048 \
    > "$PG_DIR/fuzz-$target.log" 2>&1 || { cat "$PG_DIR/fuzz-$target.log"; log "libFuzzer found a crash in $target"; exit 1; }
  log "libFuzzer $target: $(grep -Eo 'Done [0-9]+ runs' "$PG_DIR/fuzz-$target.log" | tail -n 1) in ${FUZZ_SECONDS} s, no crash"
done

# Every run passed (set -e and pipefail stop the script otherwise); report the counts.
# swift-testing's summary "Test run with N tests … passed" counts skipped tests in N, so
# the per-test skip lines ("➜ Test name() skipped." or "… skipped: \"reason\"") are counted
# apart and subtracted.
source scripts/test-counts.sh
pg_count=$(ran_count "$PG_DIR/pg-tests.log"); pg_skipped=$(skipped_count "$PG_DIR/pg-tests.log")
network_count=$(ran_count "$PG_DIR/network-tests.log"); network_skipped=$(skipped_count "$PG_DIR/network-tests.log")
other_count=$(ran_count "$PG_DIR/other-tests.log"); other_skipped=$(skipped_count "$PG_DIR/other-tests.log")
soak_count=$(ran_count "$PG_DIR/soak-tests.log"); soak_skipped=$(skipped_count "$PG_DIR/soak-tests.log")
for part in core sockets nodes restart; do
  network_count=$(( network_count + $(ran_count "$PG_DIR/network-$part-tests.log") ))
  network_skipped=$(( network_skipped + $(skipped_count "$PG_DIR/network-$part-tests.log") ))
done
log "PostgreSQL-backed tests run against the real server: $pg_count passed, $pg_skipped skipped"
if [ "$pg_count" -eq 0 ]; then
  log "the PostgreSQL phase ran no test (a renamed suite? a broken filter?)"
  exit 1
fi
for f in pg network-core network-sockets network-nodes network-restart network soak other; do skipped_names "$PG_DIR/$f-tests.log"; done | sed 's/^/== skipped: /'
echo "vivim tests: $(( pg_count + network_count + soak_count + other_count )) passed, 0 failed, $(( pg_skipped + network_skipped + soak_skipped + other_skipped )) skipped"
