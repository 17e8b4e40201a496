#!/bin/sh
# SPDX-License-Identifier: MIT
# Every source, script and test file that the project wrote carries an
# SPDX-License-Identifier: MIT line in its first two lines (the first may be
# a shebang, #compdef or doctype that must come first). In a git clone the
# files are the tracked ones and the new ones not ignored; in an unpacked
# tarball, the distributed ones but what autotools generated. TAP.
here=$(cd "$(dirname "$0")" && pwd)
: "${TOP_SRCDIR:=$here/..}"
cd "$TOP_SRCDIR" || exit 1

# Whether git's work tree is this very directory (a tarball unpacked inside
# a clone, as make distcheck does, must not be taken for the clone).
is_clone() {
    top=$(git rev-parse --show-toplevel 2>/dev/null) || return 1
    [ "$(cd "$top" && pwd -P)" = "$(pwd -P)" ]
}

list_files() {
    if is_clone; then
        git ls-files --cached --others --exclude-standard
    else
        find . -type f ! -path './autom4te.cache/*' ! -path './build-aux/*' \
            ! -path './_build/*' ! -path './_inst/*' ! -path '*/node_modules/*' \
            ! -name configure ! -name Makefile.in ! -name aclocal.m4 | sed 's|^\./||'
    fi
}

# Which files are ours to license: sources, scripts, tests, the build files,
# the man page, the packaging, and in a clone any other executable; not
# data, lock files or prose. (Outside a clone an executable may be a build
# product: a tree built in place, as dpkg-buildpackage does, has many.)
is_source() {
    case "$1" in
    tests/fuzz/corpus/* | debian/wsc/* | debian/.debhelper/* | debian/tmp/*) return 1 ;;
    *.c | *.h | *.py | *.sh | *.js | *.html | *.bash | *.am | *.ac | *.1) return 0 ;;
    bootstrap | .ci/* | completions/*) return 0 ;;
    debian/rules | debian/control | debian/.gitignore | debian/tests/*) return 0 ;;
    esac
    [ -n "$in_clone" ] && [ -x "$1" ]
}

n=0
status=0
in_clone=""
is_clone && in_clone=yes
files=$(list_files | LC_ALL=C sort -u)
for f in $files; do
    [ -f "$f" ] && is_source "$f" || continue
    n=$((n + 1))
    if head -n 2 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
        echo "ok $n - $f"
    else
        echo "not ok $n - $f has no SPDX-License-Identifier: MIT line at its top"
        status=1
    fi
done
if [ "$n" -lt 20 ]; then
    n=$((n + 1))
    echo "not ok $n - only $((n - 1)) source files found in $TOP_SRCDIR"
    status=1
fi
if [ -f LICENSE ] && grep -q '^MIT License' LICENSE; then
    n=$((n + 1))
    echo "ok $n - LICENSE holds the MIT License"
else
    n=$((n + 1))
    echo "not ok $n - LICENSE holds the MIT License"
    status=1
fi
echo "1..$n"
exit $status
