#!/usr/bin/env bash
# The distributed calculator end to end on this machine: two workers started here (one on a Unix
# socket, one on loopback TCP), and a coordinator that adds a child over anonymous pipes and a child
# over shared memory, counts the primes below 100,000,000 across all four and checks the result.
# Exit code 0 only when the result was verified.
#   RPC_DEMO_CONFIGURATION=Debug|Release (default Release); RPC_DEMO_NO_BUILD=1 uses the last build.
#   Arguments are passed to the coordinator (e.g. --limit 100000000 --segments 80).
set -euo pipefail
cd "$(dirname "$0")/.."
configuration="${RPC_DEMO_CONFIGURATION:-Release}"
if [ -z "${RPC_DEMO_NO_BUILD:-}" ]; then
  dotnet build samples/DistributedCalculator -c "$configuration" -v quiet -nologo
fi
calculator="samples/DistributedCalculator/bin/$configuration/net10.0/DistributedCalculator.dll"
work="$(mktemp -d "${TMPDIR:-/tmp}/rpc-distributed-demo.XXXXXX")"
name="rpcdd$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Prints the address a worker reports once it listens (at most 30 s).
listening() {
  for _ in $(seq 1 300); do
    if address=$(grep -m 1 -o 'LISTENING .*' "$1" 2>/dev/null); then
      echo "${address#LISTENING }"
      return 0
    fi
    sleep 0.1
  done
  echo "a worker did not start; its output:" >&2
  cat "$1" >&2
  return 1
}

dotnet "$calculator" worker "unix://$work/worker.sock" > "$work/unix.log" &
pids+=($!)
dotnet "$calculator" worker tcp://127.0.0.1:0 > "$work/tcp.log" &
pids+=($!)
unix_worker=$(listening "$work/unix.log")
tcp_worker=$(listening "$work/tcp.log")

dotnet "$calculator" coordinator \
  --pipes 1 \
  --spawn "shm://$name" \
  --worker "$unix_worker" \
  --worker "$tcp_worker" \
  "$@"
