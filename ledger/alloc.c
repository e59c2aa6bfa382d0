/*
 * alloc.c — the count of failed allocations (ldg_alloc_failures,
 * util/error.h): jansson's, through the allocator this file installs when
 * the library is loaded, and those the library meets where a caller might
 * take the failure for "none" or for damage (ldg_alloc_failed,
 * module.h). Verdicts compare it before and after and answer LDG_ENOMEM
 * when it grew. One counter in the process: libledger's (the program's
 * util/ copy has none).
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ledger/module.h"

static atomic_ulong alloc_failed;
/* a second count, in memory an isolated run shares with its parent */
static volatile unsigned long *_Atomic alloc_mirror;

static void
count_failure(void)
{
    volatile unsigned long *m = atomic_load(&alloc_mirror);
    atomic_fetch_add(&alloc_failed, 1);
    if (m != NULL)
        __atomic_fetch_add(m, 1, __ATOMIC_RELAXED);
}

void
ldg_alloc_mirror(volatile unsigned long *to)
{
    atomic_store(&alloc_mirror, to);
}

static void *
json_counted_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        count_failure();
    return p;
}

/* before main, before any jansson call of this process */
__attribute__((constructor)) static void
json_count_allocs(void)
{
    json_set_alloc_funcs(json_counted_malloc, free);
}

unsigned long
ldg_alloc_failures(void)
{
    return atomic_load(&alloc_failed);
}

int
ldg_alloc_failed(void)
{
    count_failure();
    return LDG_ENOMEM;
}
