#!/usr/bin/env bash
# Runs the calculator demo: one server process on every transport, and client processes that
# call it over a Unix socket, a named pipe, shared memory and TCP.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build samples/Calculator.Server -c Release -v quiet -nologo
dotnet build samples/Calculator.Client -c Release -v quiet -nologo
socket="${TMPDIR:-/tmp}/rpc-calculator-demo.sock"
server=samples/Calculator.Server/bin/Release/net10.0/Calculator.Server.dll
client=samples/Calculator.Client/bin/Release/net10.0/Calculator.Client.dll

# One server on every transport; the client below talks to it over each in turn.
dotnet "$server" "unix://$socket" pipe://rpc-calculator-demo shm://rpc-calculator-demo tcp://127.0.0.1:0 > "${TMPDIR:-/tmp}/rpc-calculator-demo.log" &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "${TMPDIR:-/tmp}/rpc-calculator-demo.log" 2>/dev/null && break; sleep 0.1; done
grep "Calculator listening" "${TMPDIR:-/tmp}/rpc-calculator-demo.log"
tcp=$(grep -o 'tcp://[0-9.:]*' "${TMPDIR:-/tmp}/rpc-calculator-demo.log" | head -n 1)

echo "--- over a Unix socket"
for expression in "2 + 3" "7 - 10" "6 * 7" "22 / 7" "1 / 0" "sum 1 2 3 4 5" "primes 50" "average 3 5 10"; do
  dotnet "$client" "unix://$socket" "$expression" || true
done
for address in pipe://rpc-calculator-demo shm://rpc-calculator-demo "$tcp"; do
  echo "--- over $address"
  dotnet "$client" "$address" "6 * 7" || true
  dotnet "$client" "$address" "primes 20" || true
done
