#!/bin/sh
# git.sh — git under heapsight: init, add and commit ~3000 generated files,
# change a tenth of them and commit again, repack (gc, multi-threaded),
# then log --stat, fsck and a few plumbing queries; then a side branch
# merged back (a three-way merge), a renamed folder, log -p, blame, grep,
# diff with rename detection, gc --aggressive (full delta search), a clone
# through pack-objects and index-pack (git processes talking over pipes),
# archive, and fsck again.  Author, committer, dates and configuration are
# fixed, so commit hashes match between the plain run and the preloaded
# run; output must match, exit 0, nothing on stderr.
#
# git's own test suite (t/) is not in any Debian binary package; building
# it from source needs deb-src and a git build, and the suite runs far
# longer than a CTest test should, so this workload stands in for it.
# Usage: git.sh <libheapsight.so>
LIB=${1:?usage: git.sh libheapsight.so}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
GIT=$(command -v git) || { echo "FAIL: git not found"; exit 1; }

export GIT_AUTHOR_NAME="Heap Sight" GIT_AUTHOR_EMAIL="hs@example.invalid"
export GIT_COMMITTER_NAME="Heap Sight" GIT_COMMITTER_EMAIL="hs@example.invalid"
export GIT_AUTHOR_DATE="2024-01-02T03:04:05Z"
export GIT_COMMITTER_DATE="2024-01-02T03:04:05Z"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME="$tmp"
export LC_ALL=C TZ=UTC GIT_TERMINAL_PROMPT=0

# generate <dir> <round>: 3000 files in 30 folders; round 2 rewrites every
# tenth file, round 3 every seventh file that round 2 leaves alone (so the
# merge of the two is clean).
generate() {
    awk -v dir="$1" -v round="$2" 'BEGIN {
        for (i = 0; i < 3000; i++) {
            if (round == 2 && i % 10 != 0)
                continue
            if (round == 3 && (i % 7 != 0 || i % 10 == 0))
                continue
            f = sprintf("%s/d%02d/f%04d.txt", dir, i % 30, i)
            for (j = 0; j < 5 + i % 40; j++)
                printf("file %d line %d round %d %s\n", i, j, round,
                       substr("lorem ipsum dolor sit amet consectetur", 1,
                              1 + (i * j) % 38)) > f
            close(f)
        }
    }'
}

# session <dir>: the whole git session; everything it prints must match.
session() {
    d=$1
    mkdir -p "$d" && cd "$d" || return 1
    for k in $(seq 0 29); do mkdir -p "$(printf 'd%02d' "$k")"; done
    generate "$d" 1
    git -c init.defaultBranch=main init -q . || return 1
    git add -A || return 1
    git commit -q -m "3000 files" || return 1
    generate "$d" 2
    git commit -q -a -m "rewrite every tenth file" || return 1
    git gc -q || return 1
    git rev-parse HEAD HEAD~1 HEAD^{tree}
    git log --stat | wc
    git ls-files | wc -l
    git diff --stat HEAD~1 HEAD | tail -n 1
    git fsck --full --strict --no-progress 2>&1
    git cat-file -p HEAD:d07/f0007.txt | head -n 3
    git count-objects -v | grep -E '^(count|in-pack|garbage):'
    history_session "$d"
}

# history_session <dir>: branch, merge, rename, then heavier read commands.
history_session() {
    git checkout -q -b side HEAD~1 || return 1
    generate "$1" 3
    git commit -q -a -m "rewrite every seventh file" || return 1
    git checkout -q main && git merge -q --no-edit side || return 1
    git mv d29 renamed29 && git commit -q -m "rename d29" || return 1
    git rev-parse HEAD HEAD~1^2
    git log -p --all | cksum
    git blame -s d14/f0014.txt | cksum
    git grep -c 'round 3' | wc -l
    git diff -M --stat HEAD~3 HEAD | tail -n 1
    git gc -q --aggressive || return 1
    git clone -q --no-local . "$1.clone" || return 1
    git -C "$1.clone" log --oneline | wc -l
    git archive HEAD | tar -tf - | wc -l
    git rev-list --objects --all | wc -l
    git fsck --full --strict --no-progress 2>&1
    git count-objects -v | grep -E '^(count|in-pack|garbage):'
}

# Each run works in a fresh directory.
runs=0
session_in() {
    runs=$((runs + 1))
    (session "$1/repo$runs")
}

hs_loaded
hs_same git session_in "$tmp"
hs_finish
