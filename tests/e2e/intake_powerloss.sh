#!/bin/sh
# intake_powerloss.sh — the states a power cut can leave a ledger at
# store layout 9 in (appends acknowledged by the intake log, docs/
# FORMAT.md 12): robust_powerloss.sh at that layout, whose shim
# then records data.mdb and DIR/intake in one ordered log (every write,
# every sync of each, every ack printed: frames of 4 events, and LMDB
# commits that apply the tail every 128) and whose images are of both
# files. For each of STATES (default 24) images `ledger verify --full`
# passes and every event acknowledged by then is there with its body; the
# same log replayed as if nothing had been synced loses acknowledged
# events in some of 12 images (the harness would notice a loss).
LEDGER_LAYOUT=9 NAME=intake_powerloss exec sh "$(dirname "$0")/robust_powerloss.sh" "$@"
