#!/bin/sh
# SPDX-License-Identifier: MIT
# Replays the committed fuzz corpora through each target linked with
# replay.c (tests/fuzz/replay_T), as a TAP test. make check sets
# TOP_SRCDIR and TOP_BUILDDIR; by hand they default to this tree.
here=$(cd "$(dirname "$0")" && pwd)
: "${TOP_SRCDIR:=$here/../..}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR}"

targets="frames http url handshake json commands client script record h2"
# shellcheck disable=SC2086 # split into words on purpose, to count them
set -- $targets
echo "1..$#"
n=0
status=0
for t in $targets; do
    n=$((n + 1))
    bin="$TOP_BUILDDIR/tests/fuzz/replay_$t"
    dir="$TOP_SRCDIR/tests/fuzz/corpus/$t"
    if [ ! -x "$bin" ]; then
        echo "not ok $n - replay $t"
        echo "# $bin is not built"
        status=1
        continue
    fi
    if out=$("$bin" "$dir" 2>&1); then
        k=$(printf '%s\n' "$out" | sed -n 's/^replay: \([0-9]*\) inputs$/\1/p' | tail -n 1)
        echo "ok $n - replay $t (${k:-?} inputs)"
    else
        echo "not ok $n - replay $t"
        printf '%s\n' "$out" | grep '^replay: crashed on' | sed 's/^/# /'
        printf '%s\n' "$out" | grep -v '^replay: crashed on' | tail -n 40 | sed 's/^/# /'
        status=1
    fi
done
exit $status
