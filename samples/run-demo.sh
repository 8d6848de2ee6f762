#!/usr/bin/env bash
# Runs the calculator demo: the server and the client as two processes over a Unix socket.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build samples/Calculator.Server -c Release -v quiet -nologo
dotnet build samples/Calculator.Client -c Release -v quiet -nologo
address="unix://${TMPDIR:-/tmp}/rpc-calculator-demo.sock"
server=samples/Calculator.Server/bin/Release/net10.0/Calculator.Server.dll
client=samples/Calculator.Client/bin/Release/net10.0/Calculator.Client.dll

dotnet "$server" "$address" &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -S "${address#unix://}" ] && break; sleep 0.1; done

for expression in "2 + 3" "7 - 10" "6 * 7" "22 / 7" "1 / 0" "sum 1 2 3 4 5" "primes 50" "average 3 5 10"; do
  dotnet "$client" "$address" "$expression" || true
done
