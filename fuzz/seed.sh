#!/usr/bin/env bash
# Seeds fuzz/corpus/TARGET/ from the repository's fixtures (the real kernel
# captures and every convention's files as its program writes them), so each
# target starts from inputs that already reach deep into its parser. The corpus
# is generated, never committed: the fixtures are the source of truth, and
# libFuzzer's own additions are machine-specific noise. Safe to re-run: files are
# named by their SHA-1, as libFuzzer names them, so nothing is duplicated.
set -euo pipefail
cd "$(dirname "$0")/.."
fx=fixtures
out=fuzz/corpus

# put TARGET: stores stdin as one corpus file of TARGET.
put() {
    local tmp sum
    tmp=$(mktemp)
    cat >"$tmp"
    sum=$(sha1sum "$tmp" | cut -d' ' -f1)
    mkdir -p "$out/$1"
    mv "$tmp" "$out/$1/$sum"
}

# Kernel tables: whole captures, and each line alone (the kernel's own forms).
for f in "$fx"/proc_locks/*.txt; do
    put proc_locks <"$f"
    while IFS= read -r line; do printf '%s\n' "$line" | put proc_locks; done <"$f"
done
for f in "$fx"/fdinfo/*.txt; do
    put fdinfo <"$f"
    # fdinfo lock: lines are lock_get_status() lines too.
    sed -n 's/^lock:[[:space:]]*//p' "$f" | put proc_locks
done
for f in "$fx"/mountinfo/*.txt; do
    put mountinfo <"$f"
    while IFS= read -r line; do printf '%s\n' "$line" | put mountinfo; done <"$f"
done

# Conventions: each directory is one program's files (see fixtures/conventions/README.md).
for dir in "$fx"/conventions/*/; do
    dir=${dir%/}
    while IFS= read -r -d '' f; do
        rel=${f#"$dir"/}
        case $rel in expect.txt | symlinks.txt | dirs.txt) continue ;; esac
        rel=${rel//_dot_git/.git}
        name=${rel##*/}
        # Siblings that exist beside it (PG_VERSION, CURRENT, prefs.js, …).
        siblings=$(find "$(dirname "$f")" -mindepth 1 -maxdepth 1 ! -name "$name" \
            -printf '%f/' | sed 's/_dot_git/.git/g')
        head -c 4097 "$f" | put pidfile
        # content_formats: byte 0 picks the format; every fixture under each of them.
        for pick in $(seq 0 31); do
            { printf "\\$(printf %03o "$pick")"; head -c 4097 "$f"; } | put content_formats
        done
        printf '%s' "$name" | put names
        # catalog layout (fuzz/src/lib.rs Decoded): mode 4 = regular file, head read.
        { printf '\004%s\n%s\n' "$rel" "$siblings"; head -c 4097 "$f"; } | put catalog
        # The same file before its head is read (mode 0).
        printf '\000%s\n%s\n' "$rel" "$siblings" | put catalog
    done < <(find "$dir" -type f -print0)
    if [ -f "$dir/symlinks.txt" ]; then
        while IFS= read -r line; do
            link=${line%% -> *}
            target=${line#* -> }
            name=${link##*/}
            printf '%s' "$target" | put names
            for pick in $(seq 0 31); do
                { printf "\\$(printf %03o "$pick")"; printf '%s' "$target"; } | put content_formats
            done
            printf '%s' "$name" | put names
            # mode 1 = symlink.
            printf '\001%s\n\n%s' "$link" "$target" | put catalog
        done <"$dir/symlinks.txt"
    fi
    if [ -f "$dir/dirs.txt" ]; then
        while IFS= read -r d; do
            [ -n "$d" ] || continue
            # mode 2 = directory (heartbeat locks).
            printf '\002%s\n\n' "$d" | put catalog
            printf '%s' "${d##*/}" | put names
        done <"$dir/dirs.txt"
    fi
done

for t in "$out"/*/; do
    echo "seed: $(basename "$t"): $(find "$t" -type f | wc -l) inputs"
done
