#!/bin/sh
# SPDX-License-Identifier: MIT
# demo: a real session against wsc's own listen mode. An echo server on a
# free port, two lines piped through the client, the echoes and the close.
set -eu
WSC=${WSC:-src/wsc}
log=$(mktemp)
trap 'kill "$server" 2>/dev/null; rm -f "$log"' EXIT
"$WSC" -l 0 --echo 2>"$log" &
server=$!
port=""
for _ in $(seq 50); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "demo: the server did not start" >&2; cat "$log" >&2; exit 1; }
printf "demo: printf 'hello\\\\nworld\\\\n' | wsc ws://127.0.0.1:%s\n" "$port"
printf 'hello\nworld\n' | "$WSC" "ws://127.0.0.1:$port"
echo "demo: wsc exited with status $?"
