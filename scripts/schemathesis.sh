#!/usr/bin/env bash
# Property-based testing of the API against its own OpenAPI document with schemathesis
# (from PyPI: `pip install schemathesis`): a fresh `doorman serve`, a signed-in property owner,
# every operation fed generated requests; the check is that none gets a 5xx.
#   ./scripts/schemathesis.sh [extra schemathesis args]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p doorman-cli
doorman="${CARGO_TARGET_DIR:-$PWD/target}/debug/doorman"
dir=$(mktemp -d)
"$doorman" serve --data-dir "$dir/data" --listen 127.0.0.1:0 --origin st.doorman.example/log 2> "$dir/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
URL=""
for _ in $(seq 1 100); do
  URL=$(sed -n 's|^doorman serve: API at \(http://[^/]*\)/api/v1.*$|\1|p' "$dir/serve.log")
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$dir/serve.log" >&2; exit 1; }
TOKEN=$(curl -sS --fail-with-body "$URL/api/v1/signup" -H 'content-type: application/json' \
  -d '{"org_kind":"property","org_name":"Co-op","email":"owner@example.org","name":"Owen","password":"a long passphrase"}' | jq -r .token)
curl -sS --fail-with-body "$URL/api/v1/openapi.json" -o "$dir/openapi.json"
schemathesis run "$dir/openapi.json" --url "$URL" -H "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error --max-examples 30 "$@"
