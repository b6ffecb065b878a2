#!/usr/bin/env bash
# Run the live tests (tests/live: every area on a real primary + streaming standby, as a
# superuser and as a pg_monitor-only role, through PgBouncer, on LATIN1, ...) against every
# PostgreSQL major, MATRIX_JOBS majors at a time (default 2: the tests mostly wait on their
# servers), with binaries from scripts/fetch-postgres.sh. Each major's output goes to
# target/matrix/<major>.log and is printed whole when that major ends.
#
#   scripts/test-matrix.sh               # majors 12..18
#   scripts/test-matrix.sh 12 16         # only these
#   PGVITALS_PG_MAJOR=14 cargo test      # one major, the whole suite (developers)
#
# A major whose binaries cannot be fetched or started fails the run (no skipping). Prints the
# time per major and a summary; exits non-zero if any major failed.
set -uo pipefail
cd "$(dirname "$0")/.."

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(12 13 14 15 16 17 18)

now_us() { echo "${EPOCHREALTIME/./}"; }
secs() { printf '%d.%01d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

if ! fetched=$(scripts/fetch-postgres.sh "${majors[@]}"); then
  echo "test-matrix: fetching the PostgreSQL binaries failed" >&2
  exit 1
fi
echo "$fetched"
# Where the binaries went (target/pg, or elsewhere when the postgres user cannot reach it):
# the harness looks there for a psql / pg_basebackup to borrow for 12 and 13.
PGVITALS_PG_CACHE=$(dirname "$(dirname "$(echo "$fetched" | head -n 1 | cut -d' ' -f2-)")")
export PGVITALS_PG_CACHE

# Build the test binary once, outside the timings.
cargo test --locked --test live --no-run || exit 1

logs=target/matrix
mkdir -p "$logs"
jobs_max=${MATRIX_JOBS:-2}
declare -A started=() pids=()
declare -a summary=()
failed=0

while read -r major bin; do
  while [ ${#pids[@]} -ge "$jobs_max" ]; do
    # the first of the running majors to end (bash 5.1: wait -n -p)
    wait -n -p done_pid "${pids[@]}" || true
    for m in "${!pids[@]}"; do
      if [ "${pids[$m]}" = "$done_pid" ]; then
        # already reaped by wait -n: its status is in the log's last line
        if tail -n 1 "$logs/$m.log" | grep -q '^exit 0$'; then r=ok; else r=FAILED; failed=1; fi
        echo "==> live tests on PostgreSQL $m: $r"
        cat "$logs/$m.log"
        summary+=("PostgreSQL $m: $r in $(secs $(($(now_us) - started[$m]))) s")
        unset "pids[$m]"
      fi
    done
  done
  echo "==> live tests on PostgreSQL $major ($bin): started"
  started[$major]=$(now_us)
  (
    PGVITALS_PG_BIN="$bin" cargo test --locked --test live
    echo "exit $?"
  ) >"$logs/$major.log" 2>&1 &
  pids[$major]=$!
done <<<"$fetched"
for m in "${!pids[@]}"; do
  wait "${pids[$m]}" || true
  if tail -n 1 "$logs/$m.log" | grep -q '^exit 0$'; then r=ok; else r=FAILED; failed=1; fi
  echo "==> live tests on PostgreSQL $m: $r"
  cat "$logs/$m.log"
  summary+=("PostgreSQL $m: $r in $(secs $(($(now_us) - started[$m]))) s")
done

echo "==> matrix summary"
printf '%s\n' "${summary[@]}"
exit $failed
