#!/usr/bin/env bash
# System packages the deployment checks in tests/deploy/ need: systemd-analyze
# (package systemd) for the unit, nginx for `nginx -t`, shellcheck for deploy/install.sh,
# openssl for the self-signed test certificate. Called by .ci/run before `make test`.
# Skips cleanly when everything is present or when not root; those tests then skip with
# the reason. A failing apt-get is an error: CI must not turn these checks into skips quietly.
set -euo pipefail

packages=(systemd nginx shellcheck openssl)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system-deps: ${packages[*]} already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: not root, not installing ${missing[*]} (tests needing them will skip)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: no apt-get here, not installing ${missing[*]} (tests needing them will skip)"
  exit 0
fi

# Installing nginx must not start it (it would take port 80 on the CI machine): a
# policy-rc.d that answers 101 tells the package scripts to leave services alone.
policy=/usr/sbin/policy-rc.d
added_policy=no
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  added_policy=yes
fi
cleanup() {
  if [ "$added_policy" = yes ]; then rm -f "$policy"; fi
}
trap cleanup EXIT

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
