#!/bin/sh
# run_bundle.sh [SECONDS] — builds tests/fuzz/fuzz_bundle.c with clang's
# libFuzzer (+ASan +UBSan) against the sources it needs, seeds a corpus
# from tests/vectors/bundles and a fresh real bundle, and fuzzes for
# SECONDS (default 60). Exits non-zero on a crash, leak or sanitizer error
# (the reproducer is left in build/fuzz-bundle/). Run from the repository
# root. CC defaults to clang. FUZZ_TARGETS names some of fuzz_bundle,
# fuzz_bundle_names and fuzz_manifest (default: all three). Each reads its
# corpus in the tree too (tests/fuzz/corpus_bundle, corpus_bundle_names,
# corpus_manifest), what its hours found, merged.
set -eu
DUR=${1:-60}
TARGETS=${FUZZ_TARGETS:-"fuzz_bundle fuzz_bundle_names fuzz_manifest"}
for t in $TARGETS; do
    case $t in
    fuzz_bundle | fuzz_bundle_names | fuzz_manifest) ;;
    *)
        echo "run_bundle.sh: unknown target $t (fuzz_bundle, fuzz_bundle_names, fuzz_manifest)" >&2
        exit 64
        ;;
    esac
done
T_DIR=tests/fuzz
CC=${CC:-clang}
B=build/fuzz-bundle
DEPS="lmdb msgpack libzstd libsodium nettle libcurl jansson libpcre2-8 libarchive libmicrohttpd libprotobuf-c zlib libnghttp2"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -I. \
    $(pkg-config --cflags $DEPS)"
SAN="-DLDG_DEBUG -fsanitize=address,undefined -fno-sanitize-recover=all"
mkdir -p "$B/obj" "$B/corpus" "$B/seeds" "$B/artifacts"

# the library (the Makefile's MODULES, as in run.sh: export's reading side
# reaches the segment reader, the policy and the page)
mods=${LEDGER_MODULES:-$(make -s -f Makefile print-modules)}
srcs=""
for m in $mods; do srcs="$srcs $m/*.c"; done
objs=""
# shellcheck disable=SC2086
for src in $srcs; do
    o="$B/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ]; then
        $CC $FLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$o"
    fi
    objs="$objs $o"
done
# shellcheck disable=SC2086
$CC $FLAGS $SAN -fsanitize=fuzzer tests/fuzz/fuzz_bundle.c $objs \
    $(pkg-config --libs $DEPS) -lpthread -lm -o "$B/fuzz_bundle"

# seeds: every vector, as is (mode byte 0) and decompressed (mode byte 1)
seed() { # FILE NAME
    { printf '\000'; cat "$1"; } >"$B/seeds/$2.z"
    if zstd -dq -c "$1" >"$B/seeds/tmp" 2>/dev/null; then
        { printf '\001'; cat "$B/seeds/tmp"; } >"$B/seeds/$2.tar"
    fi
    rm -f "$B/seeds/tmp"
}
for v in tests/vectors/bundles/*.bundle; do
    seed "$v" "$(basename "$v" .bundle)"
done
# a real, valid bundle when a ledger binary is at hand (carrying a
# cosigned checkpoint: one kept without cosignature lines)
LEDGER=${LEDGER:-build/ledger}
if [ -x "$LEDGER" ]; then
    T=$(mktemp -d)
    if "$LEDGER" --dir "$T/l" init >/dev/null 2>&1 &&
        "$LEDGER" --dir "$T/l" ingest examples/pdf-ops.jsonl 2>/dev/null &&
        "$LEDGER" --dir "$T/l" erase 3 --reason fuzz >/dev/null 2>&1 &&
        mkdir -p "$T/l/fleet/cosigned" &&
        "$LEDGER" --dir "$T/l" checkpoint >"$T/cp" &&
        size=$(sed -n 2p "$T/cp") && [ -n "$size" ] &&
        cp "$T/cp" "$T/l/fleet/cosigned/$size" &&
        echo "$size" >"$T/l/fleet/cosigned/latest" &&
        "$LEDGER" --dir "$T/l" export --redact requested_by \
            --out "$T/b.tar.zst" 2>/dev/null; then
        seed "$T/b.tar.zst" real
    else
        echo "run_bundle.sh: could not make the real bundle seed" >&2
        exit 1
    fi
    rm -rf "$T"
    # and one of a format 2 log: seals/ and sealproofs/ members
    T=$(mktemp -d)
    if "$LEDGER" --dir "$T/l" init >/dev/null 2>&1 &&
        "$LEDGER" --dir "$T/l" ingest examples/pdf-ops.jsonl 2>/dev/null &&
        "$LEDGER" --dir "$T/l" export --run R-0001 \
            --out "$T/b.tar.zst" 2>/dev/null; then
        seed "$T/b.tar.zst" real-sealed
    else
        echo "run_bundle.sh: could not make the sealed bundle seed" >&2
        exit 1
    fi
    rm -rf "$T"
fi

# the member-name allow-list on its own (fuzz_bundle_names.c), seeded
# with every name the layout allows and some it refuses
# shellcheck disable=SC2086
$CC $FLAGS $SAN -fsanitize=fuzzer tests/fuzz/fuzz_bundle_names.c $objs \
    $(pkg-config --libs $DEPS) -lpthread -lm -o "$B/fuzz_bundle_names"
mkdir -p "$B/names-seeds" "$B/names-corpus"
i=0
for n in manifest.json manifest.sig entries/0.entry entries/18446744073709551615.entry \
    proofs/12.proof bodies/7.json keys/0123456789abcdef.json ../x /etc/passwd \
    entries/07.entry entries//1.entry bodies/1.json/x keys/0123456789ABCDEF.json \
    cosigned/checkpoint cosigned/consistency cosigned/ cosigned/x \
    seals/4.seal sealproofs/5.proof seals/04.seal sealproofs/x.proof; do
    printf '%s' "$n" >"$B/names-seeds/$i"
    i=$((i + 1))
done
# the manifest's member list and what the reader holds because of it
# (fuzz_manifest.c), seeded with the manifests of the vectors and of the
# real bundle
# shellcheck disable=SC2086
$CC $FLAGS $SAN -fsanitize=fuzzer tests/fuzz/fuzz_manifest.c $objs \
    $(pkg-config --libs $DEPS) -lpthread -lm -o "$B/fuzz_manifest"
mkdir -p "$B/manifest-seeds" "$B/manifest-corpus"
for s in "$B"/seeds/*.z; do
    { tail -c +2 "$s" | zstd -dq -c 2>/dev/null |
        tar -xOf - --wildcards manifest.json '*/manifest.json' 2>/dev/null; } \
        >"$B/manifest-seeds/$(basename "$s" .z).json" || true
done
printf '{"files": {}}' >"$B/manifest-seeds/empty-files.json"
# the corpus in the tree of NAME, when there is one
tree_corpus() { if [ -d "$T_DIR/corpus_$1" ]; then echo "$T_DIR/corpus_$1"; fi; }
# Each runs for DUR seconds; FUZZ_JOBS at a time (tests/fuzz/jobs.sh), each
# verdict printed in one piece when it ends.
run_names() {
    if ! "$B/fuzz_bundle_names" -max_total_time="$DUR" -max_len=512 \
        -timeout=20 -print_final_stats=1 -artifact_prefix="$B/artifacts/names-" \
        "$B/names-corpus" "$B/names-seeds" $(tree_corpus bundle_names) >"$B/fuzz_bundle_names.log" 2>&1; then
        echo "fuzz_bundle_names: $i seeds, $DUR s: FAILED — see $B/fuzz_bundle_names.log"
        return 1
    fi
    echo "fuzz_bundle_names: $i seeds, $DUR s: $(grep -E '^stat::number_of_executed_units' "$B/fuzz_bundle_names.log")"
}
run_manifest() {
    if ! "$B/fuzz_manifest" -max_total_time="$DUR" -max_len=65536 \
        -timeout=20 -print_final_stats=1 -artifact_prefix="$B/artifacts/manifest-" \
        "$B/manifest-corpus" "$B/manifest-seeds" $(tree_corpus manifest) >"$B/fuzz_manifest.log" 2>&1; then
        echo "fuzz_manifest: $(ls "$B/manifest-seeds" | wc -l) seeds, $DUR s: FAILED — see $B/fuzz_manifest.log"
        return 1
    fi
    echo "fuzz_manifest: $(ls "$B/manifest-seeds" | wc -l) seeds, $DUR s: $(grep -E '^stat::number_of_executed_units' "$B/fuzz_manifest.log")"
}
run_bundle() {
    if ! "$B/fuzz_bundle" -max_total_time="$DUR" -max_len=1048576 \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/" "$B/corpus" "$B/seeds" \
        $(tree_corpus bundle) >"$B/fuzz_bundle.log" 2>&1; then
        echo "fuzz_bundle: $(ls "$B/seeds" | wc -l) seeds, $DUR s: FAILED — see $B/fuzz_bundle.log and $B/artifacts/"
        grep -E 'ERROR|SUMMARY|Test unit written' "$B/fuzz_bundle.log" | head -n 5
        return 1
    fi
    echo "fuzz_bundle: $(ls "$B/seeds" | wc -l) seeds, $DUR s: $(grep -E '^stat::number_of_executed_units' "$B/fuzz_bundle.log")"
}
. tests/fuzz/jobs.sh
for t in $TARGETS; do
    case $t in
    fuzz_bundle) fz_spawn run_bundle ;;
    fuzz_bundle_names) fz_spawn run_names ;;
    fuzz_manifest) fz_spawn run_manifest ;;
    esac
done
fz_wait_all
