#!/usr/bin/env bash
# The cost bench of issue 14 on a clean checkout, both scales, pgvitals side by side with
# pg_top -W and pg_activity on the same server in the same run (benches/cost.rs):
#   1. installs pg_top (Debian package pgtop) and pg_activity (pg-activity) through apt when
#      they are missing (as root, or through sudo), and PostgreSQL itself as .ci/run does;
#   2. runs `cargo bench --bench cost` (moderate, about 9 minutes) and
#      `BENCH_SCALE=large cargo bench --bench cost` (about 10 minutes), one after the other;
#   3. prints both reports and keeps them in target/bench-cost/{moderate,large}.txt.
#
#   scripts/bench-cost.sh                 # both scales, every tool
#   scripts/bench-cost.sh moderate        # one scale
#   BENCH_SECONDS=300 scripts/bench-cost.sh  # longer windows (see benches/cost.rs)
#
# Prints numbers and asserts nothing: run it on a quiet machine (another job on the same
# cores changes every tool's figures), and compare the columns of one run. Exits non-zero
# when a tool cannot be installed or a bench fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scales=("$@")
[ ${#scales[@]} -gt 0 ] || scales=(moderate large)
for s in "${scales[@]}"; do
  case $s in moderate | large) ;; *) echo "bench-cost: unknown scale '$s' (moderate, large)" >&2; exit 2 ;; esac
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "bench-cost: need root for: $*" >&2; return 1; fi
}

missing=()
command -v pg_top >/dev/null || missing+=(pgtop)
command -v pg_activity >/dev/null || missing+=(pg-activity)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql postgresql-contrib)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-cost: installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
  # apt starts a cluster of its own ("main"): not used, stopped so it costs nothing
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h | while read -r ver name _; do
      as_root pg_ctlcluster "$ver" "$name" stop || true
    done
  fi
fi
command -v pg_top >/dev/null && command -v pg_activity >/dev/null || {
  echo "bench-cost: pg_top or pg_activity still missing after the install" >&2
  exit 1
}

out=target/bench-cost
mkdir -p "$out"
for s in "${scales[@]}"; do
  echo "==> cost bench, $s scale (target/bench-cost/$s.txt)"
  BENCH_SCALE=$s cargo bench --locked --bench cost 2>&1 | tee "$out/$s.txt"
done
