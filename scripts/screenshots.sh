#!/usr/bin/env bash
# Make the README's screenshots from a real run of `pgvitals demo` in tmux:
#   scripts/screenshots.sh            (writes screenshots/*.svg)
# Needs tmux and python3. Takes about two minutes (the demo's lock chain and lag cycles).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/pgvitals
out=screenshots
mkdir -p "$out"
session=pgvitals-shots
tmux kill-session -t "$session" 2>/dev/null || true
tmux new-session -d -s "$session" -x 160 -y 45 "$bin demo"
trap 'tmux send-keys -t "$session" q 2>/dev/null; sleep 3; tmux kill-session -t "$session" 2>/dev/null || true' EXIT
shot() { # shot <name>
  tmux capture-pane -t "$session" -e -p | python3 scripts/ansi2svg.py > "$out/$1.svg"
  echo "wrote $out/$1.svg ($(wc -c < "$out/$1.svg") bytes)"
}
sleep "${WAIT:-45}"
shot activity
tmux send-keys -t "$session" 2; sleep 2; shot statements
tmux send-keys -t "$session" 4; sleep 2; shot replication
tmux send-keys -t "$session" 6; sleep 2; shot vacuum
tmux resize-window -t "$session" -x 80 -y 24 2>/dev/null || true
tmux send-keys -t "$session" 1; sleep 2; shot activity-80x24
