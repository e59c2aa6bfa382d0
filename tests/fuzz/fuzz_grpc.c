/*
 * fuzz_grpc.c — libFuzzer target for the gRPC server's HTTP/2 layer and
 * gRPC framing (http/grpc.c over nghttp2: frames, HPACK, flow control,
 * streams, the 5-byte message prefix, the limits checked before a
 * message is allocated) and, behind it, what the OTLP/gRPC receiver does
 * with a call (otlp/grpc.c's checks: gzip, then the protobuf decoder and
 * the mapping).
 *
 * The input is what a client sends after the HTTP/2 preface (the target
 * puts the preface first, so that the fuzzer spends its time past it),
 * fed to one connection in pieces as a socket gives them. Each call the
 * server hands over is answered at once, as the receiver would: OK with
 * an ExportTraceServiceResponse, or a status with a RetryInfo. Invariants:
 * no crash, leak or sanitizer report; every call handed over is one of
 * the four kinds, with a message only when it is whole; a message is
 * never longer than the limit (1 KiB here, so that the limit is reached);
 * and when the connection ends no message is still held.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "http/server.h"
#include "otlp/otlp_int.h"

#include "tests/fuzz/fuzz.h"

#define FUZZ_GRPC_MSG_MAX 1024

static void
fuzz_grpc_handle(void *ctx, struct ldg_grpcd_call *call,
                 enum ldg_grpcd_request what)
{
    size_t len = 0, n;
    int compressed = 0;
    const void *msg = ldg_grpcd_message(call, &len, &compressed);
    const char *enc = ldg_grpcd_header(call, "grpc-encoding");
    struct ldg_otlp_batch *b = NULL;
    void *inflated = NULL, *st = NULL;
    char err[600];
    size_t stlen = 0;
    (void)ctx;

    FUZZ_ASSERT(what == LDG_GRPCD_OK || what == LDG_GRPCD_TOO_BIG ||
                what == LDG_GRPCD_BUSY || what == LDG_GRPCD_MALFORMED);
    FUZZ_ASSERT(ldg_grpcd_path(call) != NULL);
    if (what != LDG_GRPCD_OK) {
        FUZZ_ASSERT(msg == NULL && len == 0);
        if (what == LDG_GRPCD_TOO_BIG)
            FUZZ_ASSERT(ldg_grpcd_declared(call) > FUZZ_GRPC_MSG_MAX);
        otlp_pb_status_retry(8, "no", what == LDG_GRPCD_BUSY ? 2 : 0, &st,
                             &stlen);
        ldg_grpcd_fail(call, 8, "refused \xff%", st, stlen);
        free(st);
        return;
    }
    FUZZ_ASSERT(len <= FUZZ_GRPC_MSG_MAX);
    if (compressed && enc != NULL && strcmp(enc, "gzip") == 0) {
        if (ldg_otlp_inflate(msg, len, 4 * FUZZ_GRPC_MSG_MAX, &inflated, &len,
                             err, sizeof err) < 0) {
            ldg_grpcd_fail(call, 3, err, NULL, 0);
            return;
        }
        msg = inflated;
    }
    if (ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, msg, len, NULL, NULL, err,
                        sizeof err) < 0) {
        free(inflated);
        ldg_grpcd_fail(call, 3, err, NULL, 0);
        return;
    }
    free(inflated);
    ldg_otlp_batch_events(b, &n);
    FUZZ_ASSERT(n <= ldg_otlp_batch_items(b));
    ldg_otlp_batch_free(b);
    if (otlp_pb_response(LDG_OTLP_TRACES, 0, NULL, &st, &stlen) == 0) {
        ldg_grpcd_reply(call, st, stlen);
        free(st);
    } else
        ldg_grpcd_fail(call, 14, "out of memory", NULL, 0);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    unsigned char *in = malloc(sizeof preface - 1 + size);
    if (in == NULL)
        return 0;
    memcpy(in, preface, sizeof preface - 1);
    if (size)
        memcpy(in + sizeof preface - 1, data, size);
    FUZZ_ASSERT(httpd_grpc_fuzz_one(in, sizeof preface - 1 + size,
                                    FUZZ_GRPC_MSG_MAX, fuzz_grpc_handle,
                                    NULL) == 0);
    free(in);
    return 0;
}
