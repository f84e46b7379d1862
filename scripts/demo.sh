#!/usr/bin/env bash
# Doorman end to end on the embedded default: the trust chain offline (offline-demo.sh), then
# the public transparency log — `doorman serve` (SQLite under the data dir), the building's
# registration, consent and carrier authorization logged, the log verified from outside, and
# the building's own monitor reporting what was logged at its address.
# Leaves its files in ${DEMO_DIR:-./demo-out}.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/offline-demo.sh
doorman="${CARGO_TARGET_DIR:-$PWD/target}/debug/doorman"
cd "${DEMO_DIR:-$PWD/demo-out}"
property=$("$doorman" key show property.key)

echo
echo "== the public log"
"$doorman" serve --data-dir log-data --listen 127.0.0.1:0 --origin demo.doorman.example/log \
  --checkpoint-interval 200ms 2> serve.log &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^doorman serve: listening on \(http:[^ ]*\)$/\1/p' serve.log)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat serve.log >&2; echo "doorman serve did not start" >&2; exit 1; }
key=$(sed -n 's/^doorman serve: log [^ ]*, key \(.*\)$/\1/p' serve.log)
echo "log at $url, verifier key $key"

address="12, Rue de l'Église, 75001 Paris"
{
  "$doorman" log entry property --property prop-1 --address "$address" --tz Europe/Paris \
    --property-pub "$property" --verified-by operator-1
  "$doorman" log entry consent consent.tok --property-pub "$property" --request req-1 --device dev-1
  "$doorman" log entry authorization authorization.tok --property-pub "$property"
} > entries.jsonl
echo "appended at indexes: $("$doorman" log append --data-dir log-data entries.jsonl | tr '\n' ' ')"
for _ in $(seq 1 100); do
  grep -q "checkpoint size 3 " serve.log && break
  sleep 0.1
done

"$doorman" log verify --url "$url" --key "$key" --state verified-checkpoint.txt
echo "-- the building's monitor, watching \"12 rue de l'eglise 75001 paris\":"
"$doorman" monitor --url "$url" --key "$key" --watch "12 rue de l'eglise 75001 paris" \
  --state monitor-state --once
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
