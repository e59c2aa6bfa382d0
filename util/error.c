/*
 * error.c — the names of the error codes (util/error.h) and what a
 * program exits with for each: part of the library's API.
 */
#include "util/error.h"

const char *
ldg_strerror(int code)
{
    switch (code) {
    case LDG_OK:
        return "ok";
    case LDG_EINVAL:
        return "invalid argument";
    case LDG_ENOMEM:
        return "out of memory";
    case LDG_EIO:
        return "I/O error";
    case LDG_ENOTFOUND:
        return "not found";
    case LDG_EEXIST:
        return "already exists";
    case LDG_ECORRUPT:
        return "stored data is corrupt";
    case LDG_EBADSIG:
        return "signature does not verify";
    case LDG_EFULL:
        return "storage full";
    case LDG_EBADINPUT:
        return "invalid input";
    case LDG_ETOOBIG:
        return "input too large";
    case LDG_EVERSION:
        return "unsupported format version";
    case LDG_EKEY:
        return "key unusable";
    case LDG_ETAMPER:
        return "verification failed";
    case LDG_EERASED:
        return "body erased";
    case LDG_EBADPROOF:
        return "proof does not verify";
    case LDG_EBUSY:
        return "resource busy";
    case LDG_ESTALE:
        return "state is stale";
    case LDG_ENET:
        return "network error";
    case LDG_ETIMEOUT:
        return "timed out";
    case LDG_EHTTP:
        return "HTTP error status";
    case LDG_EDUPLICATE:
        return "an event with this id is already in the log";
    case LDG_EPRUNED:
        return "pruned: the event is before the ledger's horizon";
    case LDG_ETXNFULL:
        return "transaction too large for one commit";
    default:
        return "unknown error";
    }
}

int
ldg_exit_code(int code)
{
    switch (code) {
    case LDG_OK:
        return 0;
    case LDG_ETAMPER:
    case LDG_EBADSIG:
    case LDG_EBADPROOF:
        return 1;
    case LDG_EINVAL:
        return 64;
    case LDG_EBADINPUT:
    case LDG_ETOOBIG:
    case LDG_ECORRUPT:
    case LDG_EVERSION:
    case LDG_EERASED:
        return 65;
    case LDG_ENOTFOUND:
    case LDG_EPRUNED:
        return 66;
    case LDG_EEXIST:
        return 73;
    case LDG_EKEY:
        return 77;
    case LDG_ENOMEM:
        return 71;
    case LDG_EBUSY:
        return 75;
    default:
        return 74;
    }
}
