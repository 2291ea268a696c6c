#!/usr/bin/env bash
# Installs what the observability tests need: promtool (alert unit tests) and prometheus (the
# end-to-end scrape test), from Debian's prometheus package. Idempotent; starts no system service.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  echo "prometheus $(prometheus --version 2>&1 | head -n1 | awk '{print $3}') and promtool already installed"
  exit 0
fi

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# policy-rc.d exit code 101 tells invoke-rc.d not to start the daemon the package ships; it is
# removed again afterwards only if this script created it.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee "$policy" >/dev/null
  sudo_if_needed chmod +x "$policy"
  created_policy=true
fi
trap '[ "$created_policy" = true ] && sudo_if_needed rm -f "$policy"' EXIT

sudo_if_needed apt-get update -qq
# --no-install-recommends: only the server and promtool, not the node exporter and friends.
sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
promtool --version | head -n1
