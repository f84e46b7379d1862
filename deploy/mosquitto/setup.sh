#!/bin/sh
# Creates the dynamic-security file for deploy/mosquitto/doorman.conf, with the Doorman server
# as its admin. Usage: setup.sh FILE PASSWORD   (then start mosquitto -c doorman.conf, and
# `doorman serve --broker HOST:18884 --broker-user doorman-server --broker-password PASSWORD
# --broker-dynsec`).
set -eu
file=${1:?usage: setup.sh FILE PASSWORD}
password=${2:?usage: setup.sh FILE PASSWORD}
if [ -e "$file" ]; then
    echo "setup.sh: $file exists; not replacing it" >&2
    exit 1
fi
mosquitto_ctrl dynsec init "$file" doorman-server "$password"
chmod 600 "$file"
# Mosquitto started as root runs as the `mosquitto` user, which must read and rewrite it.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
    chown mosquitto: "$file"
fi
