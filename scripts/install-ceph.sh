#!/usr/bin/env bash
# Install what scripts/ceph_rgw.py runs: a Ceph monitor, an OSD and the RADOS
# Gateway, from Debian's packages (bookworm: Ceph 16.2). Does nothing when
# they are installed already. Needs root.
set -euo pipefail

packages=(radosgw ceph-mon ceph-osd)

installed() {
    local package
    for package in "${packages[@]}"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" == installed ]] || return 1
    done
}

if installed; then
    exit 0
fi
if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-ceph.sh: installing ${packages[*]} needs root (apt-get)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Without recommends: the throwaway cluster needs the three daemons, not
# ceph-mgr, its modules or the other tools they would pull in.
apt-get install -y -qq --no-install-recommends "${packages[@]}"
