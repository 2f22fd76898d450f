#!/bin/sh
# torq @TORQ_VERSION@ (linux-x64): ONE file carrying the Deno @DENO_VERSION@ runtime and the bundled
# Torq program. Built by `deno task dist` (deploy/build.ts); needs no node, npm, deno or checkout.
#
# Below this script is a gzip'd tar of the runtime and the program. The first run unpacks it,
# once, into a cache directory, and every run then replaces itself (exec) with the runtime, so
# signals reach the relay. The cache directory is the first of: $TORQ_CACHE_DIR, $CACHE_DIRECTORY
# (set by systemd's CacheDirectory=), $XDG_CACHE_HOME/torq, ~/.cache/torq, /tmp/torq-cache-<uid>.
# A directory prepared in advance may be read-only (see deploy/Containerfile).
id=@PAYLOAD_ID@

fail() {
  echo "torq: $*" >&2
  exit 1
}

if [ -n "${TORQ_CACHE_DIR:-}" ]; then
  base=$TORQ_CACHE_DIR
elif [ -n "${CACHE_DIRECTORY:-}" ]; then
  base=${CACHE_DIRECTORY%%:*}
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
  base=$XDG_CACHE_HOME/torq
elif [ -n "${HOME:-}" ] && [ -d "$HOME" ] && [ -w "$HOME" ]; then
  base=$HOME/.cache/torq
else
  base=${TMPDIR:-/tmp}/torq-cache-$(id -u)
fi
dir=$base/$id

if [ ! -x "$dir/deno" ] || [ ! -f "$dir/app/main.js" ]; then
  umask 077
  mkdir -p "$base" || fail "cannot create the cache directory $base (set TORQ_CACHE_DIR)"
  # Only a directory of our own: another user could otherwise plant a runtime in it.
  [ -O "$base" ] || [ "$base" = "${TORQ_CACHE_DIR:-}" ] ||
    fail "cache directory $base belongs to another user (set TORQ_CACHE_DIR)"
  tmp=$(mktemp -d "$base/.unpack.XXXXXX") || fail "cannot write to the cache directory $base"
  if ! tail -n +@PAYLOAD_LINE@ "$0" | gzip -dc | tar -xf - -C "$tmp"; then
    rm -rf "$tmp"
    fail "cannot unpack the runtime from $0 into $base (is the file complete?)"
  fi
  if [ -e "$dir" ]; then
    rm -rf "$tmp" # another start unpacked it meanwhile
  else
    mv "$tmp" "$dir" || fail "cannot move the runtime into $dir"
  fi
fi

# `torq bench` starts relay processes with this same command.
TORQ_EXECUTABLE=$0
DENO_NO_UPDATE_CHECK=1
export TORQ_EXECUTABLE DENO_NO_UPDATE_CHECK
exec "$dir/deno" run --quiet --no-config --no-lock --no-prompt --v8-flags="@TORQ_V8_FLAGS@" \
  @TORQ_PERMISSIONS@ "$dir/app/main.js" "$@"
exit 1
