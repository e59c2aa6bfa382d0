/*
 * codec_int.h — shared by the codec files of ledger/ (codec.c,
 * codec_entry.c, codec_fields.c, codec_json.c), the only files that use
 * msgpack-c. Nothing outside them includes it.
 */
#ifndef LDG_CODEC_INT_H
#define LDG_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

/* msgpack-c's unpacker nests 32 deep at most, and a body value sits two
 * levels down (map, [salt, value]): readers accept values nested up to 30
 * deep, writers refuse more than LDG_DEPTH_MAX (24), leaving a margin. */
#define JSON_DEPTH_MAX 30

/* Length of the one msgpack object at p if it is well formed and within
 * bounds (a pre-pass before msgpack-c's unpacker), else 0. */
size_t ldg_mp_bounded_len(const uint8_t *p, size_t len);
/* msgpack_unpack_next behind the bounds pre-pass; *off gets the length
 * of the object. LDG_ECORRUPT or LDG_ENOMEM. */
int ldg_mp_unpack_bounded(msgpack_unpacked *u, const uint8_t *p, size_t len,
                          size_t *off);
/* A str's bytes: msgpack-c leaves ptr NULL for an empty string. */
const char *ldg_mp_sptr(const msgpack_object_str *s);
/* Unpacks exactly one object covering all of p[0..len) and checks that
 * packing it again gives the same bytes (u to be destroyed by the caller
 * whatever the result). */
int ldg_mp_unpack_canonical(const uint8_t *p, size_t len, msgpack_unpacked *u);
/* Bytewise order of two str keys. */
int ldg_mp_key_cmp(const msgpack_object_str *a, const msgpack_object_str *b);
/* A canonical object as JSON (strict: see ldg_mp_to_json_strict). */
int ldg_mp_obj_to_json(const msgpack_object *o, json_t **out, int depth);

#endif
