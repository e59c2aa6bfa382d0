/*
 * tree_int.h — the tree part of ledger/: the stored hashes and tiles
 * (tree.c, tiles.c), checkpoints read, proofs.
 */
#ifndef LDG_TREE_INT_H
#define LDG_TREE_INT_H

#include "ledger/handle_int.h"

/* tree.c: prev of event seq (the stored tree's leaf hash of seq-1; zeros
 * for seq 0). */
int ldg_entry_prev(struct ldg_txn *t, uint64_t seq, uint8_t prev[32]);

/* Internal tree maintenance (tree.c). */
int ldg_tree_add_leaf(struct ldg_txn *t, uint64_t seq, const uint8_t leaf[32]);
/* Benchmarks only (LDG_BENCH_NOTREE): level 0 alone, the leaf hashes a
 * layout 5 reader takes each entry's prev from (its edge and full tiles,
 * stored as ldg_tree_add_leaf stores them); no level above, so no root. */
int ldg_tree_add_leaf_only(struct ldg_txn *t, uint64_t seq,
                           const uint8_t leaf[32]);
/* Layouts 2 to 4: copies the 256 hashes of full tile n of tile level tl
 * into out (in layout 4 from its record in db tiles and its last hash in
 * db tree). LDG_ENOTFOUND when that tile is not full yet, LDG_ECORRUPT
 * when its record has a length the layout does not have, or its last hash
 * is missing. */
int ldg_tree_tile_get(struct ldg_txn *t, int tl, uint64_t n,
                      uint8_t out[LDG_TILE_BYTES]);
/* Store layout 9 (issue 64, item 6): a prune drops the level-0 tiles
 * that lie wholly before the tile holding the last pruned event (and
 * their last hashes in db tree), which only proofs of pruned events need
 * (FORMAT.md 6.2, "Layout 9"). *from gets the first leaf whose level-0
 * hashes the store still keeps: floor((H-1)/256)*256 for a ledger pruned
 * at horizon H at layout 9, else 0 (every hash kept). A tree read that
 * needs a level-0 hash before it answers LDG_EPRUNED. */
int ldg_tree_kept_from(struct ldg_txn *t, uint64_t *from);
/* The message for a proof that needs the tree hashes a prune dropped
 * (LDG_EPRUNED from the tree): what it was (e.g. "no inclusion proof of
 * event 5"), the horizon, the first leaf kept and the archive that
 * proves the rest, set on t's ledger. Returns LDG_EPRUNED. */
int ldg_tree_pruned_err(struct ldg_txn *t, const char *what);
/* The root of full tile n of tile level tl, computed from its 256 stored
 * hashes: what the stored hash (8·(tl+1), n) must be. LDG_ENOTFOUND when the
 * tile is not full, LDG_ECORRUPT as ldg_tree_tile_get. */
int ldg_tree_tile_root(struct ldg_txn *t, int tl, uint64_t n, uint8_t out[32]);
/* The same, for verify: 0 with *count 256, or 255 when a split tile's
 * last hash is missing or malformed (out holds the first 255), so that
 * the damage is named at its own event. */
int ldg_tree_tile_read(struct ldg_txn *t, int tl, uint64_t n,
                       uint8_t out[LDG_TILE_BYTES], size_t *count);
/* The MTH of the n hashes at h (n a power of two, at most a tile's
 * width), into out. */
void ldg_tree_subtree_hash(const uint8_t *h, size_t n, uint8_t out[32]);
/* The count hashes of level 8·tl from index first on, from db tree (the
 * edge; one cursor walk), into out; LDG_ENOTFOUND unless all are there. */
int ldg_tree_edge_run(struct ldg_txn *t, int tl, uint64_t first, size_t count,
                      uint8_t (*out)[32]);

/* ldg_checkpoint_check but for the signature: the note's text names this
 * log's origin and t's tree root at its size. For a frame of the ledger's
 * own intake log, applied or replayed: its bytes are under the frame's
 * checksum, its signature was made before the ack, and verify checks it
 * as it checks every checkpoint (whoever could write a frame could write
 * data.mdb). @return as ldg_checkpoint_check, without LDG_EBADSIG. */
int ldg_checkpoint_check_root(struct ldg_txn *t, const char *note, size_t len,
                              uint64_t *size);

#endif
