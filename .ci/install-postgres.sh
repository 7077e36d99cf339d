#!/usr/bin/env bash
# Make sure PostgreSQL's server programs (initdb, pg_ctl, postgres) are installed, for the tests
# that start their own throwaway servers (tests/pgserver.py). Installs Debian's `postgresql`
# package when they are missing; does nothing when they are there. Never starts a cluster.
# Exit status 0 when the programs are available at the end.
set -uo pipefail

# Prints the directory holding all three programs, as tests/pgserver.py looks for them.
find_bindir() {
    local dir candidates=()
    if [ -n "${STEEPEST_PG_BINDIR:-}" ]; then candidates+=("$STEEPEST_PG_BINDIR"); fi
    if command -v pg_ctl >/dev/null 2>&1; then
        candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")")
    fi
    # /usr/lib/postgresql/<version>/bin, highest version first
    while IFS= read -r dir; do candidates+=("$dir"); done < <(
        ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r
    )
    for dir in "${candidates[@]}"; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

if find_bindir >/dev/null; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: PostgreSQL server programs not found and apt-get is not available" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-postgres: PostgreSQL server programs not found; installing them needs root" >&2
    exit 1
fi

echo "install-postgres: installing Debian's postgresql package" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/install-postgres.XXXXXX.log)
# A policy-rc.d that exits 101 stops the package from starting its default cluster's service.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt_install() {
    apt-get install -y -q --no-install-recommends postgresql </dev/null >>"$log" 2>&1
}
if ! apt_install; then
    apt-get update -q </dev/null >>"$log" 2>&1
    apt_install
fi
status=$?

if dir=$(find_bindir); then
    echo "install-postgres: PostgreSQL server programs in $dir" >&2
    rm -f "$log"
    exit 0
fi
echo "install-postgres: could not install PostgreSQL (apt-get exit $status); last lines of its log:" >&2
tail -n 20 "$log" >&2
exit 1
