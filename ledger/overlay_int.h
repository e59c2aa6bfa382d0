/*
 * overlay_int.h — sorted in-memory maps of changes over a store snapshot,
 * internal to ledger/ (overlay.c; store.c merges them with LMDB).
 *
 * An overlay holds one map a database. A map's node is a key (and, in a
 * database of sorted duplicates, one duplicate: nodes are then ordered by
 * key and value) with a value put, or a deletion (LDG_OVL_DEL) hiding the
 * snapshot's record of that key (pair). In a duplicates map, a node
 * LDG_OVL_KEYDEL hides every duplicate the snapshot holds of its key (a
 * deletion of the key): it sorts before the key's pairs, and the
 * overlay's own pairs of the key after it stay. A cleared map hides the
 * whole snapshot's database (a drop).
 *
 * Order is LMDB's default: bytes, then length, for keys and duplicates.
 * Nodes and values live until ldg_ovl_free: pointers a caller got stay
 * valid that long. Each change bumps the overlay's version (a cursor
 * keeps its place only while it holds).
 */
#ifndef LDG_OVERLAY_INT_H
#define LDG_OVERLAY_INT_H

#include <stddef.h>
#include <stdint.h>

#define LDG_OVL_DEL 1u
#define LDG_OVL_KEYDEL 2u

/* A value that sorts after every duplicate (for a seek to a key's last). */
#define LDG_OVL_VMAX ((const void *)&ldg_ovl_vmax_)
extern const char ldg_ovl_vmax_;

struct ldg_ovl;
struct ldg_ovl_map;
struct ldg_ovl_node;

struct ldg_ovl *ldg_ovl_new(void);
void ldg_ovl_free(struct ldg_ovl *o);
uint64_t ldg_ovl_version(const struct ldg_ovl *o);

/* dbi's map: NULL when it has none and !create (or out of memory). */
struct ldg_ovl_map *ldg_ovl_map(struct ldg_ovl *o, unsigned dbi, int dup,
                                int create);
int ldg_ovl_map_dup(const struct ldg_ovl_map *m);
int ldg_ovl_map_cleared(const struct ldg_ovl_map *m);
/* Records the map adds to (or takes from) the snapshot's count. */
int64_t ldg_ovl_map_delta(const struct ldg_ovl_map *m);
void ldg_ovl_map_add_delta(struct ldg_ovl_map *m, int64_t d);
/* Empties the map and hides the snapshot's database. */
void ldg_ovl_map_clear(struct ldg_ovl *o, struct ldg_ovl_map *m);

/* Puts node (k, v) with flags (0: a value or duplicate put; LDG_OVL_DEL;
 * LDG_OVL_KEYDEL, v unused), replacing one of the same key (pair). 0 or
 * -1 out of memory. */
int ldg_ovl_set(struct ldg_ovl *o, struct ldg_ovl_map *m, const void *k,
                size_t kl, const void *v, size_t vl, unsigned flags);

/* The node of exactly (k, v) (v unused in a map without duplicates), any
 * flags; NULL if none. */
const struct ldg_ovl_node *ldg_ovl_find(const struct ldg_ovl_map *m,
                                        const void *k, size_t kl, const void *v,
                                        size_t vl);
/* The key's LDG_OVL_KEYDEL node, or NULL. */
const struct ldg_ovl_node *ldg_ovl_keydel(const struct ldg_ovl_map *m,
                                          const void *k, size_t kl);
/* The first node at or after (k, v) (strict: after); v NULL: the key's
 * least, LDG_OVL_VMAX: past its greatest. */
const struct ldg_ovl_node *ldg_ovl_seek(const struct ldg_ovl_map *m,
                                        const void *k, size_t kl, const void *v,
                                        size_t vl, int strict);
/* The last node at or before (k, v) (strict: before). */
const struct ldg_ovl_node *ldg_ovl_seek_le(const struct ldg_ovl_map *m,
                                           const void *k, size_t kl,
                                           const void *v, size_t vl,
                                           int strict);
const struct ldg_ovl_node *ldg_ovl_first(const struct ldg_ovl_map *m);
const struct ldg_ovl_node *ldg_ovl_last(const struct ldg_ovl_map *m);
const struct ldg_ovl_node *ldg_ovl_next(const struct ldg_ovl_node *n);
const struct ldg_ovl_node *ldg_ovl_prev(const struct ldg_ovl_map *m,
                                        const struct ldg_ovl_node *n);
void ldg_ovl_node_get(const struct ldg_ovl_node *n, const uint8_t **k,
                      size_t *kl, const uint8_t **v, size_t *vl,
                      unsigned *flags);

/* Order of (ak, av) and (bk, bv) in a map (dup: by value too). */
int ldg_ovl_cmp(int dup, const void *ak, size_t akl, const void *av, size_t avl,
                const void *bk, size_t bkl, const void *bv, size_t bvl);

#endif
