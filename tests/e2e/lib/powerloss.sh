# powerloss.sh — sourced by the power-cut sweeps (migrate_powerloss,
# retention_powerloss, robust_powerloss; not run on its own).
#   pl_state I EPOCHS  sets mode and e for state I of a sweep: the four
#                      ways tests/faults/powerloss leaves a file after a
#                      cut (a prefix of the writes, a subset, reordered,
#                      torn), in turn, at epochs spread over 0..EPOCHS-1.
pl_state() {
    case $(($1 % 4)) in
    0) mode=prefix ;;
    1) mode=subset ;;
    2) mode=reorder ;;
    *) mode=torn ;;
    esac
    e=$((($1 * 7919 + $1 / 4) % $2))
}
