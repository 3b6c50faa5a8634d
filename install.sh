#!/usr/bin/env bash
# Installs mtnode under PREFIX (default ~/bin-10100): bin/, conf/, plugins/,
# log/ and cache/. The example configs of conf/examples/ go into conf/, each
# for the program named like it (conf/mtnode-web.conf is bin/mtnode-web's);
# existing configs are never overwritten.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX="${PREFIX:-$HOME/bin-10100}"
BIN="${BIN:-bin}"

if [ ! -x "$BIN/mtnode" ]; then
	echo "install: $BIN/mtnode not found; run 'make build' first" >&2
	exit 1
fi
install -d -m 0755 "$PREFIX/bin" "$PREFIX/conf" "$PREFIX/log" "$PREFIX/cache"
# The plugins folder must not be writable by others: the node refuses it.
install -d -m 0755 "$PREFIX/plugins"
for f in "$BIN"/*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	install -m 0755 "$f" "$PREFIX/bin/"
done
for f in "$BIN"/plugins/*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	install -m 0755 "$f" "$PREFIX/plugins/"
done
for f in conf/examples/*.conf; do
	[ -e "$f" ] || continue
	dst="$PREFIX/conf/$(basename "$f")"
	[ -e "$dst" ] || install -m 0644 "$f" "$dst"
done
echo "installed into $PREFIX:"
echo "  run it:        $PREFIX/bin/mtnode        (writes $PREFIX/conf/mtnode.conf on first run)"
echo "  second config: ln -s mtnode $PREFIX/bin/mtnode-web && $PREFIX/bin/mtnode-web"
echo "  two nodes:     ln -s mtnode $PREFIX/bin/mtnode-backend, then run mtnode-backend and mtnode-web"
echo "                 (their example configs are in $PREFIX/conf/; each file's header explains it)"
