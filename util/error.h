/*
 * error.h — the error codes every module of libledger returns, and their
 * names. The plumbing (util/, http/) returns them too, so they live at the
 * bottom of the house: this header includes nothing of the project.
 *
 * Functions return 0 (LDG_OK) on success or one of these negative codes.
 * A code says what kind of failure it was, and is the library's policy for
 * callers that map failures to outcomes (the CLI's exit codes: see
 * cli/exit.c); the handle's message (ldg_errmsg) says what and where.
 */
#ifndef LDG_UTIL_ERROR_H
#define LDG_UTIL_ERROR_H

enum ldg_error {
    LDG_OK = 0,
    LDG_EINVAL = -1,      /* misuse: bad argument or flag */
    LDG_ENOMEM = -2,      /* out of memory */
    LDG_EIO = -3,         /* I/O error from the OS or LMDB */
    LDG_ENOTFOUND = -4,   /* no such event, key, record */
    LDG_EEXIST = -5,      /* already exists (ledger, key name) */
    LDG_ECORRUPT = -6,    /* stored data is malformed */
    LDG_EBADSIG = -7,     /* a signature does not verify */
    LDG_EFULL = -8,       /* disk or map full and could not grow */
    LDG_EBADINPUT = -9,   /* outside input is malformed or invalid */
    LDG_ETOOBIG = -10,    /* input exceeds a limit */
    LDG_EVERSION = -11,   /* unknown format version */
    LDG_EKEY = -12,       /* key unusable: missing, bad permissions, revoked */
    LDG_ETAMPER = -13,    /* verification found the log altered */
    LDG_EERASED = -14,    /* the body of this event was erased */
    LDG_EBADPROOF = -15,  /* a Merkle proof does not verify */
    LDG_EBUSY = -16,      /* resource busy (lock, readers) */
    LDG_ESTALE = -17,     /* state is older than the log (projection) */
    LDG_ENET = -18,       /* network: refused, reset, DNS, TLS, cut short */
    LDG_ETIMEOUT = -19,   /* a network operation timed out */
    LDG_EHTTP = -20,      /* an HTTP server answered with status >= 400 */
    LDG_EDUPLICATE = -21, /* an event with this id is already in the log */
    LDG_EPRUNED = -22,    /* the event was pruned: before the horizon */
    LDG_ETXNFULL = -23    /* one transaction holds more changes than the
                             store allows (LMDB's MDB_TXN_FULL): not a full
                             disk or map; the work must be split */
};

/* The static name of code, e.g. "signature does not verify";
 * "unknown error" for a code not in the enum.
 * @return a string valid for the life of the program. */
const char *ldg_strerror(int code);

/* The process exit status a program reports for code: the project's
 * policy, in the library so that every program built on it says the same
 * (sysexits.h; docs/OUTPUT.md): 0 for 0; 1 when a verification failed
 * (LDG_ETAMPER, LDG_EBADSIG, LDG_EBADPROOF); 64 for misuse (LDG_EINVAL);
 * 65 for bad data (LDG_EBADINPUT, LDG_ETOOBIG, LDG_ECORRUPT, LDG_EVERSION,
 * LDG_EERASED); 66 for what is not there (LDG_ENOTFOUND); 73 for
 * LDG_EEXIST; 77 for an unusable key (LDG_EKEY); 71 for LDG_ENOMEM; 75,
 * try again later, for LDG_EBUSY (an address in use, a ledger another
 * server serves, a ledger pruned or migrated meanwhile, LMDB's reader
 * table full: another process holds what is wanted, for now); 74 for the
 * rest (I/O, a full disk, a transaction too large, the network).
 * @return the exit status, 0 to 77. */
int ldg_exit_code(int code);

/* How many allocations have failed in this process so far: jansson's,
 * and those of the store's reads (LMDB's cursors), which some readers
 * cannot tell from damage (a dictionary not read). jansson reports few:
 * json_object_set_new returns -1, which builders of views seldom check, and
 * json_loads says "" at line -1, so an object built or parsed while memory ran
 * out may lack members or read as malformed, and jansson 2.14's parser can
 * crash after such a failure (akheron/jansson#362). Functions whose answer is a
 * verdict (ldg_verify, ldg_verify_full, ldg_export_write, ldg_export_verify)
 * compare this count before and after and answer LDG_ENOMEM when it grew,
 * never a finding (nor record one); a program can do the same
 * around any call. The library installs its counting allocator
 * (json_set_alloc_funcs) when it is loaded; a program that installs its
 * own afterwards turns the count off. Safe from any thread and from a
 * signal handler. Defined in libledger (ledger/error.c), not in util/.
 * @return the count, which only grows. Lifetime: nothing kept. */
unsigned long ldg_alloc_failures(void);

#endif
