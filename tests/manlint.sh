#!/bin/sh
# SPDX-License-Identifier: MIT
# The man page lints clean with mandoc (warnings and worse; style notes
# such as "outdated mandoc.db" are not errors), its sections in the
# conventional order. Skipped where mandoc is not installed. TAP.
here=$(cd "$(dirname "$0")" && pwd)
: "${TOP_SRCDIR:=$here/..}"
page="$TOP_SRCDIR/man/wsc.1"
if ! command -v mandoc >/dev/null 2>&1; then
    echo "1..0 # SKIP mandoc is not installed"
    exit 0
fi
echo "1..2"
out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
if [ -z "$out" ]; then
    echo "ok 1 - mandoc -Tlint -Wwarning man/wsc.1: clean"
else
    echo "not ok 1 - mandoc -Tlint -Wwarning man/wsc.1: clean"
    printf '%s\n' "$out" | sed 's/^/# /'
fi
# The examples the README shows are in the man page's EXAMPLES too, each a
# .Dl line there (mdoc writes a backslash as \e).
examples=$(sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$page" | sed -n 's/^\.Dl //p' | sed 's/\\e/\\/g')
missing=$(sed -n '/^```sh$/,/^```$/p' "$TOP_SRCDIR/README.md" | grep '^wsc \|^printf ' |
    sed 's/ *#.*//' | while IFS= read -r cmd; do
        printf '%s\n' "$examples" | grep -qxF -- "$cmd" || echo "$cmd"
    done)
if [ -z "$missing" ]; then
    echo "ok 2 - the README's examples are in EXAMPLES"
else
    echo "not ok 2 - the README's examples are in EXAMPLES"
    printf '%s\n' "$missing" | sed 's/^/# missing: /'
fi
[ -z "$out" ] && [ -z "$missing" ]
