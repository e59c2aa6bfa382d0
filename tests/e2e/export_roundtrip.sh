#!/bin/sh
# export_roundtrip.sh — `ledger export` then `ledger verify-bundle`, through
# the CLI: every selection form (terms, --run, -S/-U, everything), each
# redaction form, the archive opening with `tar --zstd`, --trusted-key,
# --extract, -o json, and the usage/exit-code contract.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || exit 1
L ingest "$(dirname "$0")/../../examples/pdf-ops.jsonl" 2>/dev/null || exit 1
L keys add alice >/dev/null || exit 1
L append run.step --actor alice --body \
    '{"run":"R-0001","step":"late","tool":"x","status":"ok"}' >/dev/null ||
    exit 1
VKEY=$(L keys verifier) || exit 1

# verify B [args] -> exit code in $rc, stderr in $T/verr
verify() {
    b=$1
    shift
    "$LEDGER" verify-bundle "$b" "$@" >"$T/vout" 2>"$T/verr"
    rc=$?
}

# --- selection forms: bundle selects exactly what query selects ----------
n=0
# (--run with its context is checked in timeline_context.sh)
for sel in "--run R-0001 --no-context" "type=route.*" "actor=alice" "pack=pdf-ops" \
    "run=R-0001 + type=pack.*" ""; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    L export $sel --out "$T/s$n.tar.zst" -o json >"$T/ej" 2>"$T/ee" ||
        { fail "export '$sel': exit $? $(cat "$T/ee")"; continue; }
    terms=$(printf '%s' "$sel" | sed 's/--run /run=/; s/ --no-context//')
    # shellcheck disable=SC2086
    want=$(L query $terms -o json | wc -l | tr -d ' ')
    got=$(sed -n 's/.*"selected":\([0-9]*\),.*/\1/p' "$T/ej")
    [ "$got" = "$want" ] || fail "export '$sel' selected $got, query $want"
    verify "$T/s$n.tar.zst" --insecure-trust-bundle-key
    [ "$rc" = 0 ] || fail "verify '$sel': exit $rc: $(grep FAIL "$T/verr")"
    grep -q '^WARN log-key: taken on trust' "$T/verr" ||
        fail "no trust warning without --trusted-key"
done
# a time window: the second half of the log, by the time of its first event
# (the recorded time, which -S and -U select by; "time" is the source's)
mid=$(L query -o json | sed -n '20p' |
    sed 's/.*"recorded_time":"\([^"]*\)".*/\1/')
L export -S "$mid" --out "$T/since.tar.zst" -o json >"$T/ej" 2>/dev/null ||
    fail "export -S: exit $?"
want=$(L query -S "$mid" -o json | wc -l | tr -d ' ')
grep -q "\"selected\":$want," "$T/ej" || fail "-S selected not $want"
verify "$T/since.tar.zst" --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "verify -S bundle: exit $rc"
L export -U "$mid" --out "$T/until.tar.zst" 2>/dev/null || fail "export -U"
verify "$T/until.tar.zst" --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "verify -U bundle: exit $rc"

# --- trusted key ----------------------------------------------------------
B=$T/s1.tar.zst
verify "$B" --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "trusted verify: exit $rc"
grep -q '^PASS log-key' "$T/verr" || fail "trusted key not reported PASS"
grep -q '^WARN' "$T/verr" && fail "warning despite a trusted key"
printf '%s\n' "$VKEY" >"$T/vkey"
verify "$B" --trusted-key "$T/vkey"
[ "$rc" = 0 ] || fail "trusted key from a file: exit $rc"
for c in archive manifest manifest-signature files log-key checkpoint keys \
    proofs signatures chain bodies erasures events state redactions; do
    grep -q "^[A-Z]* $c: " "$T/verr" || fail "no line for check $c"
done
tail -n 1 "$T/verr" | grep -q '^bundle OK' || fail "no OK summary"
[ -s "$T/vout" ] && fail "human verify wrote to stdout"
verify "$B" -o json --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "verify -o json: exit $rc"
[ "$(wc -l <"$T/vout" | tr -d ' ')" = 1 ] || fail "-o json not one line"
grep -q '"ok":true' "$T/vout" || fail "-o json lacks ok:true"
grep -q '"name":"proofs","status":"PASS"' "$T/vout" || fail "-o json checks"

# --- the archive opens with standard tools ---------------------------------
mkdir "$T/x"
tar --zstd -xf "$B" -C "$T/x" --strip-components=1 ||
    fail "tar --zstd -xf failed"
[ "$(tar --zstd -tf "$B" | sed -n 2p)" = s1/ledger-bundle ] ||
    fail "the first file is not s1/ledger-bundle"
for f in ledger-bundle manifest.json manifest.sig checkpoint log.vkey \
    events.jsonl state/projections.json; do
    [ -f "$T/x/$f" ] || fail "bundle lacks $f"
done
ls "$T/x/entries" | grep -q '\.entry$' || fail "no entries/"
ls "$T/x/proofs" | grep -q '\.proof$' || fail "no proofs/"
head -n 1 "$T/x/proofs/0.proof" | grep -qx 'c2sp.org/tlog-proof@v1' ||
    fail "proof is not tlog-proof@v1"
# (the verifier's first line: an anchor line follows it, init anchors the
# log key; log.vkey is the key alone, docs/format-bundle.md)
[ "$(cat "$T/x/log.vkey")" = "$(printf '%s\n' "$VKEY" | head -n 1)" ] ||
    fail "log.vkey is not the verifier"
head -n 1 "$T/x/manifest.sig" | grep -qx 'ledger.bundle/v1 manifest' ||
    fail "manifest.sig purpose line"

# --- redaction -----------------------------------------------------------
L export --run R-0001 --redact requested_by,intent --out "$T/r.tar.zst" \
    2>"$T/ee" || fail "export --redact: exit $?"
verify "$T/r.tar.zst" --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "redacted bundle: exit $rc $(grep FAIL "$T/verr")"
grep -q '^PASS redactions: fields withheld: ' "$T/verr" ||
    fail "redactions not reported: $(grep redactions "$T/verr")"
value=$(L query run=R-0001 type=run.started -o json |
    sed -n 's/.*"requested_by":"\([^"]*\)".*/\1/p')
[ -n "$value" ] || fail "test data lacks requested_by"
mkdir "$T/rx"
tar --zstd -xf "$T/r.tar.zst" -C "$T/rx" --strip-components=1
grep -rqF -- "$value" "$T/rx" && fail "withheld value '$value' in the bundle"
# names stay out too: only counts say what was withheld
grep -rq 'requested_by' "$T/rx" && fail "the withheld name requested_by is in the bundle"
grep -q '"withheld": "2"' "$T/rx/manifest.json" ||
    fail "manifest does not count the withheld fields"
grep -q '"fields_withheld": "2"' "$T/rx/manifest.json" ||
    fail "manifest counts.fields_withheld"
# nothing about the exporter unless asked (--creator)
grep -q '"by"' "$T/rx/manifest.json" && fail "created.by written without --creator"
[ -e "$T/rx/state/projections.json" ] &&
    fail "the projected state (not redactable) went out with --redact"
L export --run R-0001 --redact requested_by --creator "ops team" \
    --out "$T/rc.tar.zst" 2>/dev/null || fail "export --creator: exit $?"
tar --zstd -xOf "$T/rc.tar.zst" rc/manifest.json | grep -q '"by": "ops team"' ||
    fail "--creator not recorded"
# a --redact field no selected event has: exit 65 naming it, no file
L export --run R-0001 --redact requestedby --out "$T/typo.tar.zst" 2>"$T/ee"
rc=$?
[ "$rc" = 65 ] || fail "--redact requestedby (typo): exit $rc, want 65"
grep -q "requestedby" "$T/ee" || fail "typo not named: $(cat "$T/ee")"
[ -e "$T/typo.tar.zst" ] && fail "refused export left a file"
L export --run R-0001 --redact-body route.decison --out "$T/typo.tar.zst" 2>"$T/ee"
[ $? = 65 ] || fail "--redact-body route.decison (typo): not 65"
# an empty name (an unset "$FIELDS", a stray comma): refused, 64, no file
# (it wrote the bundle with nothing withheld, exit 0)
for v in "" "," "requested_by," "requested_by,,intent"; do
    L export --run R-0001 --redact "$v" --out "$T/typo.tar.zst" 2>"$T/ee"
    rc=$?
    [ "$rc" = 64 ] && grep -q "^ledger export: --redact: an empty name in '$v'" "$T/ee" ||
        fail "--redact '$v': exit $rc: $(cat "$T/ee")"
    [ -e "$T/typo.tar.zst" ] && { fail "--redact '$v' left a file"; rm -f "$T/typo.tar.zst"; }
done
L export --run R-0001 --redact-body "" --out "$T/typo.tar.zst" 2>"$T/ee"
rc=$?
[ "$rc" = 64 ] && grep -q "^ledger export: --redact-body: an empty name in ''" "$T/ee" ||
    fail "--redact-body '': exit $rc: $(cat "$T/ee")"
[ -e "$T/typo.tar.zst" ] && { fail "--redact-body '' left a file"; rm -f "$T/typo.tar.zst"; }
L export --run R-0001 --redact requestedby --redact-allow-missing \
    --out "$T/typo.tar.zst" 2>"$T/ee" || fail "--redact-allow-missing: exit $?"
# a run that does not exist: exit 66 naming it, unless --allow-empty
L export --run R-9 --out "$T/empty.tar.zst" 2>"$T/ee"
rc=$?
[ "$rc" = 66 ] || fail "export --run R-9: exit $rc, want 66"
grep -q "run=R-9" "$T/ee" || fail "empty selection not named: $(cat "$T/ee")"
[ -e "$T/empty.tar.zst" ] && fail "empty selection left a file"
L export --run R-9 --allow-empty --out "$T/empty.tar.zst" 2>/dev/null ||
    fail "--allow-empty: exit $?"
# a route decision's subject (route:R) and run repeat its body's route and
# run: withholding the body does not hide them, so export refuses (exit 64,
# naming the envelope field) unless the disclosure is accepted
L export --run R-0001 --redact-body route.decision --out "$T/rb.tar.zst" \
    2>"$T/ee"
rc=$?
[ "$rc" = 64 ] || fail "export --redact-body (envelope repeats): exit $rc, want 64"
grep -q "the envelope's subject" "$T/ee" || fail "envelope field not named: $(cat "$T/ee")"
[ -e "$T/rb.tar.zst" ] && fail "refused export left a file"
L export --run R-0001 --redact-body route.decision --allow-envelope-disclosure \
    --out "$T/rb.tar.zst" 2>/dev/null || fail "export --redact-body: exit $?"
verify "$T/rb.tar.zst" --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "body-redacted bundle: exit $rc"
grep -q 'whole bodies withheld' "$T/verr" || fail "whole bodies not reported"
L export --redact-body key.added --out "$T/bad.tar.zst" 2>"$T/ee"
rc=$?
[ "$rc" = 65 ] || fail "--redact-body key.added: exit $rc"
[ -e "$T/bad.tar.zst" ] && fail "refused export left a file"

# --- extraction -----------------------------------------------------------
verify "$B" --extract "$T/ex" --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "--extract: exit $rc"
[ -f "$T/ex/manifest.json" ] || fail "--extract wrote no manifest"
verify "$B" --extract "$T/ex" --trusted-key "$VKEY"
[ "$rc" = 73 ] || fail "--extract over existing files: exit $rc"
# the bundle verified: the verdict names the directory, not the bundle
# (it said "not a readable bundle (already exists)")
grep -q "verified, but nothing extracted (already exists)$" "$T/verr" &&
    ! grep -q "not a readable" "$T/verr" ||
    fail "--extract over existing files: verdict $(tail -n 1 "$T/verr")"

# --- usage and exit codes --------------------------------------------------
L export --run R-0001 --out "$B" 2>"$T/ee"
rc=$?
[ "$rc" = 73 ] || fail "export over an existing file: exit $rc"
L export --run R-0001 2>/dev/null
[ $? = 64 ] || fail "export without --out: not 64"
L export nosuchfield=1 --out "$T/n.tar.zst" 2>"$T/ee"
rc=$?
[ "$rc" = 65 ] || fail "bad term: exit $rc"
grep -q 'nosuchfield' "$T/ee" || fail "bad term message: $(cat "$T/ee")"
verify "$T/does-not-exist.tar.zst" --trusted-key "$VKEY"
[ "$rc" = 66 ] || fail "missing bundle: exit $rc"
L export --run R-0001 --out - >"$T/stdout.tar.zst" 2>/dev/null ||
    fail "--out -: exit $?"
verify "$T/stdout.tar.zst" --trusted-key "$VKEY"
[ "$rc" = 0 ] || fail "bundle written to stdout: exit $rc"
"$LEDGER" verify-bundle 2>/dev/null
[ $? = 64 ] || fail "verify-bundle without a file: not 64"

# --- trust is explicit ----------------------------------------------------
# no anchor: refused (64), saying what to pass, and no check is run
verify "$B"
[ "$rc" = 64 ] || fail "no trust anchor: exit $rc"
grep -q -- '--trusted-key' "$T/verr" || fail "no anchor: $(cat "$T/verr")"
grep -q '^PASS\|^WARN' "$T/verr" && fail "no anchor: checks were run"
# a key file that cannot be read: 66 "cannot read", no bundle checks
verify "$B" --trusted-key /nonexistent
[ "$rc" = 66 ] || fail "--trusted-key /nonexistent: exit $rc"
grep -q 'cannot read /nonexistent' "$T/verr" ||
    fail "--trusted-key /nonexistent: $(cat "$T/verr")"
grep -q '^FAIL\|^PASS' "$T/verr" && fail "unreadable key: checks were run"
: >"$T/empty.vkey"
verify "$B" --trusted-key "$T/empty.vkey"
[ "$rc" = 66 ] || fail "--trusted-key empty file: exit $rc"

[ "$fails" = 0 ] || exit 1
echo "export_roundtrip: ok"
