#!/usr/bin/env bash
# Doorman end to end on the embedded default: the trust chain offline (offline-demo.sh), then
# the public transparency log — `doorman serve` (SQLite under the data dir), the building's
# registration, consent and carrier authorization logged, the log verified from outside, and
# the building's own monitor reporting what was logged at its address — then the control
# plane by CLI against the same server (README, "The control plane by CLI"): the operator's
# setup, a property claimed and verified, an installer's request approved, a carrier
# authorized and minting a pass by API, the owner's switch, and the public log verified again.
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

echo
echo "== the control plane by CLI"
# Each person has their own credentials file; nothing here touches ~/.config/doorman.
unset DOORMAN_URL DOORMAN_TOKEN
as() { local who=$1; shift; DOORMAN_CREDENTIALS="$PWD/$who.credentials.json" "$doorman" "$@"; }
api=${url%/log}
code=$(grep -o 'dmsetup_[A-Za-z0-9_-]*' serve.log | head -n 1)
(umask 077 && echo "correct horse battery staple" > password.txt)

echo "-- the operator, with the one-time code doorman serve printed"
as operator setup --url "$api" --code "$code" --email operator@doorman.example \
  --name "Olga Operator" --org "Doorman Operations" --password-file password.txt
echo "-- the owner signs up and claims the building; the operator verifies the claim"
as owner signup --url "$api" --kind property --org "Westchester Co-op" \
  --email owner@coop.example --name "Owen Owner" --password-file password.txt
prop=$(as owner property claim --name "The Main Street building" \
  --address "12 Main Street, Springfield" --tz Europe/Paris -q)
as operator property list --status claimed
as operator property verify "$prop" --note "deed and management contract checked" -q >/dev/null
as owner door add --property "$prop" --id street --name "Street door" -q >/dev/null
as owner door add --property "$prop" --id garage --name "Garage door" -q >/dev/null
as owner unit add --property "$prop" --id 4B --id 5A -q >/dev/null
as owner property show "$prop"
as owner door list --property "$prop"

echo "-- an installer and a carrier sign up; the carrier lets the server hold its pass key"
as installer signup --url "$api" --kind installer --org "Fixit Installers" \
  --email admin@fixit.example --name "Ines Installer" --password-file password.txt >/dev/null
as carrier signup --url "$api" --kind carrier --org "Acme Parcel" \
  --email admin@acme.example --name "Carla Carrier" --password-file password.txt >/dev/null
as carrier carrier key --custodial

echo "-- the installer files a request with a photo; the owner approves it"
printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000\377\331' > door.jpg
"$doorman" key generate --out street-device.key > street-device.pub
req=$(as installer installation request --property "$prop" --door street \
  --device-id dev-street-1 --device-key "$(cat street-device.pub)" \
  --notes "Relay wired to the panel's door-release terminals" --photo door.jpg -q)
as owner installation list --property "$prop" --status requested
as owner installation evidence get "$req" 1 --out door-from-server.jpg
as owner installation approve "$req"

echo "-- the owner authorizes the carrier; the carrier mints a pass by API"
carrier=$(as owner carrier list -q)
auth=$(as owner carrier authorize --property "$prop" --carrier "$carrier" --door street \
  --door garage --schedule "Mon-Fri 08:00-20:00; Sat 09:00-13:00" --not-after +90d \
  --daily-cap 20 -q)
as carrier carrier authorizations
"$doorman" key generate --out api-driver.key > api-driver.pub
driver=$(as carrier carrier driver add --name "Sam Driver" --public-key "$(cat api-driver.pub)" -q)
as carrier carrier pass "$auth" --door street --unit 4B --delivery ACME-000124 \
  --driver "$driver" --not-after +1h --out api-pass.tok
as carrier carrier show "$auth" --token-out api-authorization.tok -q >/dev/null
property_pub=$(as owner property show "$prop" --json | sed -n 's/^  "public_key": "\(.*\)",$/\1/p')
"$doorman" token inspect api-pass.tok --property-pub "$property_pub" | sed -n 's/^signatures: /pass signatures: /p'

echo "-- the owner switches service off: no pass is minted; then on again"
as owner service off --property "$prop" -q >/dev/null
if as carrier carrier pass "$auth" --door street --unit 4B --delivery ACME-000125 \
  --driver "$driver" --not-after +1h -q 2> refused.txt; then
  echo "a pass was minted with service off" >&2; exit 1
fi
sed 's/ \[request [^]]*\]//' refused.txt
as owner service on --property "$prop"

echo "-- the public log, verified from outside: it extends the checkpoint verified before"
for _ in $(seq 1 100); do
  grep -q "checkpoint size 7 " serve.log && break
  sleep 0.1
done
"$doorman" log verify --url "$url" --key "$key" --state verified-checkpoint.txt
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
