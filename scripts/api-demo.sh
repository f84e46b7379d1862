#!/usr/bin/env bash
# The control plane by API alone (curl and jq; docs/api.md, "The workflows, by API"): a fresh
# `doorman serve`, the operator's setup with the printed code, a property claimed and
# verified, a door and a unit, an installer's request with a photo approved by the owner, a
# carrier with a custodial key authorized and minting a pass, and every step in the public log,
# which `doorman log verify` checks from outside. Leaves its files in ${API_DEMO_DIR:-./api-demo-out}.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p doorman-cli
doorman="${CARGO_TARGET_DIR:-$PWD/target}/debug/doorman"
dir="${API_DEMO_DIR:-$PWD/api-demo-out}"
mkdir -p "$dir" && cd "$dir"
rm -rf data serve.log
"$doorman" serve --data-dir data --listen 127.0.0.1:0 --origin api-demo.doorman.example/log \
  --checkpoint-interval 200ms 2> serve.log &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
URL=""
for _ in $(seq 1 100); do
  URL=$(sed -n 's|^doorman serve: API at \(http://[^/]*\)/api/v1.*$|\1|p' serve.log)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { cat serve.log >&2; echo "doorman serve did not start" >&2; exit 1; }
CODE=$(grep -o 'dmsetup_[A-Za-z0-9_-]*' serve.log | head -1)
json=(-sS --fail-with-body -H 'content-type: application/json')
pw='"password":"a long passphrase"'

echo "== the operator, once, with the code doorman serve printed"
OP=$(curl "${json[@]}" "$URL/api/v1/setup" -d "{\"code\":\"$CODE\",\"org_name\":\"Doorman Ops\",\"email\":\"ops@example.org\",\"name\":\"Olga\",$pw}" | jq -r .token)
echo "== a property organisation claims a building; the operator verifies it"
OWN=$(curl "${json[@]}" "$URL/api/v1/signup" -d "{\"org_kind\":\"property\",\"org_name\":\"Co-op\",\"email\":\"owner@example.org\",\"name\":\"Owen\",$pw}" | jq -r .token)
ORG=$(curl -sS --fail-with-body "$URL/api/v1/me" -H "authorization: Bearer $OWN" | jq -r '.memberships[0].org')
P=$(curl "${json[@]}" "$URL/api/v1/properties" -H "authorization: Bearer $OWN" \
  -d "{\"org\":\"$ORG\",\"name\":\"12 Main\",\"address\":\"12 Main Street\",\"time_zone\":\"Europe/Paris\",\"custody\":\"custodial\"}" | jq -r .id)
curl "${json[@]}" "$URL/api/v1/properties/$P/verify" -H "authorization: Bearer $OP" -d '{"note":"deed checked"}' | jq -c '{id, status, log_index}'
curl "${json[@]}" "$URL/api/v1/properties/$P/doors" -H "authorization: Bearer $OWN" -d '{"id":"street","name":"Street door"}' | jq -c .
curl "${json[@]}" "$URL/api/v1/properties/$P/units" -H "authorization: Bearer $OWN" -d '{"id":"4B"}' | jq -c .
echo "== an installer files a request with a photo; the owner approves it"
INS=$(curl "${json[@]}" "$URL/api/v1/signup" -d "{\"org_kind\":\"installer\",\"org_name\":\"Fixit\",\"email\":\"fix@example.org\",\"name\":\"Ines\",$pw}" | jq -r .token)
rm -f device.key driver.key
DEVICE=$("$doorman" key generate --out device.key | grep '^ed25519/')
R=$(curl "${json[@]}" "$URL/api/v1/installations" -H "authorization: Bearer $INS" \
  -d "{\"property\":\"$P\",\"door\":\"street\",\"device_id\":\"dev-1\",\"device_key\":\"$DEVICE\",\"notes\":\"wired to the release\"}" | jq -r .id)
printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000\377\331' > panel.jpg
curl -sS --fail-with-body "$URL/api/v1/installations/$R/evidence" -H "authorization: Bearer $INS" \
  -H 'content-type: image/jpeg' --data-binary @panel.jpg | jq -c '{number, size}'
curl "${json[@]}" "$URL/api/v1/installations/$R/approve" -H "authorization: Bearer $OWN" -d '{}' | jq -c '{id, status, consent_log_index: .consent.log_index}'
echo "== a carrier with a custodial key is authorized and mints a pass"
CAR=$(curl "${json[@]}" "$URL/api/v1/signup" -d "{\"org_kind\":\"carrier\",\"org_name\":\"Acme\",\"email\":\"acme@example.org\",\"name\":\"Cara\",$pw}" | jq -r .token)
C=$(curl -sS --fail-with-body "$URL/api/v1/me" -H "authorization: Bearer $CAR" | jq -r '.memberships[0].org')
curl "${json[@]}" -X PUT "$URL/api/v1/orgs/$C/carrier-key" -H "authorization: Bearer $CAR" -d '{"custodial":true}' | jq -c '{id, carrier_key}'
A=$(curl "${json[@]}" "$URL/api/v1/properties/$P/authorizations" -H "authorization: Bearer $OWN" \
  -d "{\"carrier\":\"$C\",\"doors\":[\"street\"],\"schedule\":\"Mon-Fri 08:00-20:00\",\"daily_cap\":20,\"not_after\":\"$(date -u -d '+1 year' +%Y-%m-%dT%H:%M:%SZ)\"}" | jq -r .id)
DRIVER=$("$doorman" key generate --out driver.key | grep '^ed25519/')
NB=$(date -u +%Y-%m-%dT%H:%M:%SZ); NA=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
curl "${json[@]}" "$URL/api/v1/authorizations/$A/passes" -H "authorization: Bearer $CAR" \
  -d "{\"door\":\"street\",\"unit\":\"4B\",\"delivery\":\"ACME-1\",\"driver_key\":\"$DRIVER\",\"not_before\":\"$NB\",\"not_after\":\"$NA\"}" | jq -c '{id, door, unit}'
echo "== everything is in the public log, verified from outside"
for _ in $(seq 1 50); do
  size=$(curl -sS "$URL/log/checkpoint" | sed -n 2p)
  [ "$size" = 4 ] && break
  sleep 0.1
done
"$doorman" log verify --url "$URL/log" --key "$(curl -sS "$URL/log/key")"
