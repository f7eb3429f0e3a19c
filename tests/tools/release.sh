#!/usr/bin/env bash
# Builds the release archive, as ripgrep's and trippy's releases do:
#   portscope-VERSION-TARGET/
#     portscope                      the binary (static, musl, where that target is installed)
#     doc/portscope*.1               every man page
#     doc/config.example.toml        an example config file
#     complete/portscope.bash, _portscope, portscope.fish
#     systemd/                       the metrics service and timer, the ExecStartPre= drop-in
#     LICENSE-MIT, LICENSE-APACHE, README.md
# then portscope-VERSION-TARGET.tar.gz and its .sha256 beside it. The generated man pages and
# completions are also left in target/release/{man,complete}, where `cargo deb` takes them.
#
# Environment: TARGET (a target triple; default musl when installed, else the host's),
# OUT (default $CARGO_TARGET_DIR/archive), PORTSCOPE_BIN (package this binary instead of
# building one: what the test of this script does).
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
target_dir=${CARGO_TARGET_DIR:-target}
host=$(rustc -vV | sed -n 's/^host: //p')
musl="${host%%-*}-unknown-linux-musl"

if [ -n "${PORTSCOPE_BIN:-}" ]; then
    target=${TARGET:-$host}
    bin=$PORTSCOPE_BIN
else
    if [ -z "${TARGET:-}" ]; then
        if rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
            target=$musl
        else
            target=$host
            echo "note: $musl is not installed (rustup target add $musl): building a" \
                "dynamically linked $target binary instead of a static one" >&2
        fi
    else
        target=$TARGET
    fi
    cargo build --release --locked --target "$target"
    bin="$target_dir/$target/release/portscope"
fi

out=${OUT:-$target_dir/archive}
name="portscope-$version-$target"
stage="$out/$name"
rm -rf "$stage" "$out/$name.tar.gz" "$out/$name.tar.gz.sha256"
mkdir -p "$stage/doc" "$stage/complete" "$stage/systemd"

install -m 0755 "$bin" "$stage/portscope"
"$bin" man --dir "$stage/doc"
"$bin" completions bash > "$stage/complete/portscope.bash"
"$bin" completions zsh > "$stage/complete/_portscope"
"$bin" completions fish > "$stage/complete/portscope.fish"
install -m 0644 assets/config.example.toml "$stage/doc/"
install -m 0644 assets/systemd/* "$stage/systemd/"
install -m 0644 assets/licenses/LICENSE-MIT assets/licenses/LICENSE-APACHE README.md "$stage/"

# For cargo deb (its assets name target/release/...).
mkdir -p "$target_dir/release/man" "$target_dir/release/complete"
cp "$stage"/doc/*.1 "$target_dir/release/man/"
cp "$stage"/complete/* "$target_dir/release/complete/"

tar -C "$out" --owner=0 --group=0 --sort=name -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
if command -v file >/dev/null; then
    file -b "$stage/portscope" | sed 's/^/binary: /' >&2
fi
echo "$out/$name.tar.gz"
