#!/usr/bin/env bash
# Build the Debian package: target/debian/pgvitals_<version>-1_<arch>.deb
#
#   scripts/build-deb.sh            # installs cargo-deb first when it is missing
#
# The release binary, then its manual pages (pgvitals man --dir) and shell completions
# (pgvitals completions ...), generated from the same clap definitions as --help, into
# <target>/release/deb-assets, then `cargo deb --no-build` with the assets listed in
# Cargo.toml's [package.metadata.deb]. Prints the path of the package on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
  echo "build-deb: installing cargo-deb (crates.io)" >&2
  cargo install --locked cargo-deb >&2
fi

cargo build --release --locked >&2
target=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
bin="$target/release/pgvitals"
assets="$target/release/deb-assets"
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --dir "$assets/man" >&2
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/pgvitals"
"$bin" completions zsh >"$assets/completions/_pgvitals"
"$bin" completions fish >"$assets/completions/pgvitals.fish"

cargo deb --no-build >&2
ls -t "$target"/debian/pgvitals_*.deb | head -n 1
