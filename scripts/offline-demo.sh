#!/usr/bin/env bash
# The whole trust chain offline, with the `doorman` CLI: keys -> consent -> authorization ->
# pass -> the door decides. Leaves its files in ${DEMO_DIR:-./demo-out}.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p doorman-cli
doorman="${CARGO_TARGET_DIR:-$PWD/target}/debug/doorman"
dir="${DEMO_DIR:-$PWD/demo-out}"
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"

property=$("$doorman" key generate --out property.key)
carrier=$("$doorman" key generate --out carrier.key)
driver=$("$doorman" key generate --out driver.key)
device=$("$doorman" key generate --out device.key)
echo "property key: $property"

"$doorman" consent sign --property-key property.key --property prop-1 --door street \
  --device-pub "$device" --installer installer-1 \
  --not-before 2026-11-01T00:00:00Z --not-after 2027-11-01T00:00:00Z --out consent.tok
"$doorman" authorization sign --property-key property.key --property prop-1 \
  --carrier acme-parcel --carrier-pub "$carrier" --door street --door garage \
  --schedule "Mon-Fri 08:00-20:00; Sat 09:00-13:00" --tz Europe/Paris --daily-cap 20 \
  --not-before 2026-11-01T00:00:00Z --not-after 2027-02-01T00:00:00Z --out authorization.tok
"$doorman" pass mint --authorization authorization.tok --carrier-key carrier.key \
  --door street --unit 4B --delivery ACME-000123 --driver-pub "$driver" \
  --not-before 2026-11-25T08:30:00Z --not-after 2026-11-25T10:30:00Z --out pass.tok

check() { # $1 = what, rest = extra flags
  local what=$1; shift
  printf '%-44s ' "$what:"
  "$doorman" door check --property-pub "$property" --device-pub "$device" \
    --consent consent.tok --pass pass.tok "$@" || true
}
check "street door, Wednesday 10:00 Paris" --door street --at 2026-11-25T09:00:00Z --driver-key driver.key
check "no driver key (no proof of possession)" --door street --at 2026-11-25T09:00:00Z
check "an hour after the window" --door street --at 2026-11-25T11:30:00Z --driver-key driver.key
check "the garage door's device" --door garage --at 2026-11-25T09:00:00Z --driver-key driver.key
"$doorman" token inspect authorization.tok --json | grep -o '"revocation_id": "[0-9a-f]*"' | cut -d'"' -f4 > revoked.txt
check "authorization revoked" --door street --at 2026-11-25T09:00:00Z --driver-key driver.key --revoked revoked.txt
check "revocation list 2 days old" --door street --at 2026-11-25T09:00:00Z --driver-key driver.key --revocations-as-of 2026-11-23T09:00:00Z
