#!/usr/bin/env bash
# Make the PostgreSQL server binaries (initdb, postgres) available for the queue tests, which start
# their own throwaway server on 127.0.0.1 (tests/pg_server.py). Installs Debian's `postgresql`
# package with apt-get only when no `initdb` is found and we are root (or have passwordless sudo).
# It never fails the build: when it cannot install, it says why and those tests skip with a reason.
# It does not create or start a cluster. CARPS_NO_PG_INSTALL=1 skips the install.
set -uo pipefail

have_initdb() {
    [ -n "${CARPS_PG_BINDIR:-}" ] && [ -x "${CARPS_PG_BINDIR}/initdb" ] && return 0
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
    compgen -G '/usr/pgsql-*/bin/initdb' >/dev/null && return 0
    [ -x /usr/local/pgsql/bin/initdb ]
}

skip() { echo "ensure-postgres: $* -- the PostgreSQL tests will skip" >&2; exit 0; }

have_initdb && exit 0
[ "${CARPS_NO_PG_INSTALL:-0}" = 1 ] && skip "PostgreSQL server binaries not found and CARPS_NO_PG_INSTALL=1"
. "$(dirname "$0")/apt-install.sh"
root_or_skip "PostgreSQL server binaries (initdb, postgres)" postgresql

echo "ensure-postgres: installing Debian's postgresql package (server binaries for the tests) ..." >&2
# No cluster: the package would otherwise create and start `main` on port 5432; the tests run their own.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    as_root mkdir -p /etc/postgresql-common &&
        echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
apt_install "PostgreSQL server binaries (initdb, postgres)" postgresql
have_initdb || skip "installed postgresql but found no initdb"
echo "ensure-postgres: installed $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)" >&2
exit 0
