#!/usr/bin/env bash
# Doorman's pages in real headless Chromium: plays `doorman demo` (a building's day on the
# embedded default, then it keeps serving on loopback), then runs browser/run.mjs against it
# (playwright-core driving the system's /usr/bin/chromium; nothing is downloaded at run time).
#
# Installs what is missing first: Debian's chromium (apt-get), browser/node_modules (npm ci).
# Needs node >= 20. Screenshots go to ${SCREENSHOT_DIR:-target/browser-screenshots}.
# Some steps also run the doorman CLI as the demo's carrier and its driver (`doorman login`,
# `carrier pass`, `door unlock`), with their credentials and keys in the demo's temporary
# directory (HOME, XDG_CONFIG_HOME and DOORMAN_CREDENTIALS point there; nothing touches yours).
# DOORMAN_BIN=PATH tests that binary instead of building target/debug/doorman.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS

say() { echo "browser-tests: $*"; }
die() { echo "browser-tests: $*" >&2; exit 1; }

# --- what the tests need -------------------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi
command -v node > /dev/null || die "node (>= 20) is needed"
if [ ! -d browser/node_modules/playwright-core ]; then
  say "npm ci in browser/"
  (cd browser && npm ci --no-audit --no-fund)
fi
if [ -n "${DOORMAN_BIN:-}" ]; then
  doorman=$(cd "$(dirname "$DOORMAN_BIN")" && pwd)/$(basename "$DOORMAN_BIN")
  [ -x "$doorman" ] || die "DOORMAN_BIN=$DOORMAN_BIN is not an executable"
  say "testing $doorman (DOORMAN_BIN; not built here)"
else
  cargo build --locked -p doorman-cli
  doorman="${CARGO_TARGET_DIR:-$root/target}/debug/doorman"
fi
screenshots="${SCREENSHOT_DIR:-target/browser-screenshots}"
mkdir -p "$screenshots"
screenshots=$(cd "$screenshots" && pwd)

# --- the demo, in the background -----------------------------------------------------------
tmp=$(mktemp -d)
log="$tmp/demo.log"
: > "$log"
demo_pid=""
stop_demo() {
  [ -n "$demo_pid" ] || return 0
  if kill -0 "$demo_pid" 2> /dev/null; then
    kill -TERM "$demo_pid" 2> /dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$demo_pid" 2> /dev/null || break
      sleep 0.1
    done
    kill -KILL "$demo_pid" 2> /dev/null || true
  fi
  wait "$demo_pid" 2> /dev/null || true
  demo_pid=""
}
cleanup() {
  stop_demo
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
show_log() {
  echo "---- doorman demo's output ($log) ----" >&2
  cat "$log" >&2
  echo "---- end of doorman demo's output ----" >&2
}

# Port 0: the server binds a free port itself and prints the URL it got (no race between
# picking a port and binding it).
say "starting doorman demo (it plays a day first)"
"$doorman" demo --data-dir "$tmp/data" --listen 127.0.0.1:0 > "$log" 2>&1 &
demo_pid=$!

# The email printed for `who` ("  manager    manager@maple.example") under "Sign in (…":".
signin() {
  awk -v who="$1" '/^Sign in \(/ { s = 1; next } s && $1 == who && NF == 2 { print $2; exit }' "$log"
}
# The page of the installation request the demo leaves waiting for the manager.
waiting_request() {
  sed -n "/^An installation request waits for the manager's decision: / { s/^.*: \(http:\/\/[^ ]*\)\$/\1/p; q }" "$log"
}
# Ready once it has printed the URL, the sign-ins (down to the carrier's) and, last, the
# waiting installation request.
ready() {
  grep -q '^Doorman is serving at http://' "$log" && [ -n "$(signin resident)" ] && [ -n "$(signin carrier)" ] &&
    [ -n "$(waiting_request)" ]
}
deadline=$((SECONDS + 300))
until ready; do
  if ! kill -0 "$demo_pid" 2> /dev/null; then
    wait "$demo_pid" && status=0 || status=$?
    demo_pid=""
    show_log
    die "doorman demo exited (status $status) before printing its URL and sign-ins"
  fi
  if grep -q '^Press Ctrl-C to stop' "$log" && ! ready; then
    show_log
    die "doorman demo is serving but did not print its URL, the sign-ins (owner to carrier) and the waiting installation request"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    show_log
    die "doorman demo did not print its URL and sign-ins within 5 minutes"
  fi
  sleep 0.2
done
say "demo ready after $((SECONDS - started)) s (build included)"

# --- what the demo printed -----------------------------------------------------------------
# Doorman is serving at http://127.0.0.1:PORT (API http://127.0.0.1:PORT/api/v1, public log …).
# Anyone can see what is registered at Maple Court: http://127.0.0.1:PORT/lookup?address=1+Maple+Court%2C+Springfield
# Sign in (`doorman login --url http://127.0.0.1:PORT --email …`), password "doorman demo password":
#   owner      owner@maple.example
#   manager    manager@maple.example
#   resident   resident@maple.example
#   installer  admin@fixit.example
#   carrier    admin@acme.example
#   operator   operator@doorman.example
# An installation request waits for the manager's decision: http://127.0.0.1:PORT/app/installations/req_…
url=$(sed -n '/^Doorman is serving at http:/ { s/^Doorman is serving at \(http:\/\/[^ ]*\) (.*$/\1/p; q }' "$log")
lookup=$(sed -n '/^Anyone can see what is registered at / { s/^.*: \(http:\/\/[^ ]*\)$/\1/p; q }' "$log")
password=$(sed -n '/^Sign in (/ { s/^.*, password "\(.*\)":$/\1/p; q }' "$log")
manager=$(signin manager)
resident=$(signin resident)
carrier=$(signin carrier)
installer=$(signin installer)
installation=$(waiting_request)
address=""
[ -z "$lookup" ] || address=$(node -e 'console.log(new URL(process.argv[1]).searchParams.get("address") ?? "")' "$lookup")
for v in url password manager resident carrier installer installation address; do
  if [ -z "${!v}" ]; then
    show_log
    die "could not read the $v from doorman demo's output"
  fi
done
say "server $url; manager $manager; resident $resident; carrier $carrier; address \"$address\""
say "waiting installation request $installation"
# The CLI's people (the carrier, its driver) keep their credentials and keys here.
cli_dir="$tmp/cli"
mkdir -m 700 "$cli_dir"

# --- the browser tests ---------------------------------------------------------------------
if DOORMAN_URL="$url" \
  DOORMAN_MANAGER_EMAIL="$manager" DOORMAN_MANAGER_PASSWORD="$password" \
  DOORMAN_RESIDENT_EMAIL="$resident" DOORMAN_RESIDENT_PASSWORD="$password" \
  DOORMAN_CARRIER_EMAIL="$carrier" DOORMAN_CARRIER_PASSWORD="$password" \
  DOORMAN_INSTALLER_EMAIL="$installer" DOORMAN_INSTALLER_PASSWORD="$password" \
  DOORMAN_PHOTO="$root/crates/cli/assets/panel.png" \
  DOORMAN_INSTALLATION_URL="$installation" \
  DOORMAN_CLI="$doorman" DOORMAN_CLI_DIR="$cli_dir" \
  DOORMAN_ADDRESS="$address" SCREENSHOT_DIR="$screenshots" \
  node browser/run.mjs; then
  status=0
else
  status=$?
fi
if ! kill -0 "$demo_pid" 2> /dev/null; then
  show_log
  die "doorman demo died during the browser tests"
fi
if [ "$status" -ne 0 ]; then
  echo "---- the end of doorman demo's output ----" >&2
  tail -n 40 "$log" >&2
fi
say "screenshots in $screenshots"
say "$([ "$status" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s"
exit "$status"
