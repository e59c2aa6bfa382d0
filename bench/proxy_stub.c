/*
 * proxy_stub.c — the upstream of the proxy benchmark (bench/proxy.sh): an
 * OpenAI-compatible endpoint in C, so the benchmark measures the proxies
 * and not a starved Python stub. Every POST is answered like
 * /v1/chat/completions: a body with "stream":true gets Server-Sent Events
 * (chunked: 8 pieces STREAM_MS apart, a usage chunk, data: [DONE]); any
 * other gets one JSON object with usage, after DELAY_MS.
 *
 *   build/bench/proxy_stub PORT_FILE [DELAY_MS [STREAM_MS]]
 *
 * Binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and serves
 * HTTP/1.1 with keep-alive, one thread per connection, until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long delay_ms = 0, stream_ms = 20;

static const char reply[] =
    "{\"id\":\"stub\",\"object\":\"chat.completion\",\"model\":\"m:1\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{"
    "\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}";

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    if (ms > 0)
        nanosleep(&ts, NULL);
}

static int
put(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k <= 0)
            return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static int
chunk(int fd, const char *s)
{
    char head[32];
    size_t n = strlen(s);
    int hl = snprintf(head, sizeof head, "%zx\r\n", n);
    char buf[1024];
    if ((size_t)hl + n + 2 > sizeof buf)
        return -1;
    memcpy(buf, head, (size_t)hl);
    memcpy(buf + hl, s, n);
    memcpy(buf + hl + n, "\r\n", 2);
    return put(fd, buf, (size_t)hl + n + 2);
}

static int
stream(int fd)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: "
                               "text/event-stream\r\nTransfer-Encoding: "
                               "chunked\r\n\r\n";
    if (put(fd, head, sizeof head - 1) < 0)
        return -1;
    for (int i = 0; i < 8; i++) {
        if (i > 0)
            sleep_ms(stream_ms);
        if (chunk(fd, "data: {\"id\":\"s\",\"object\":\"chat.completion."
                      "chunk\",\"model\":\"m:1\",\"choices\":[{\"index\":0,"
                      "\"delta\":{\"content\":\"tok \"}}]}\n\n") < 0)
            return -1;
    }
    if (chunk(fd, "data: {\"id\":\"s\",\"model\":\"m:1\",\"choices\":[],"
                  "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":8}}"
                  "\n\n") < 0 ||
        chunk(fd, "data: [DONE]\n\n") < 0)
        return -1;
    return put(fd, "0\r\n\r\n", 5);
}

static void *
conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    size_t have = 0;

    for (;;) {
        char *end = NULL, *cl;
        size_t hdr, want = 0;
        ssize_t n;
        int is_stream;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
            if (have == sizeof buf)
                goto out;
            n = read(fd, buf + have, sizeof buf - have);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        hdr = (size_t)(end - buf) + 4;
        *end = '\0';
        cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl != NULL)
            want = strtoul(cl + 17, NULL, 10);
        if (hdr + want > sizeof buf)
            goto out;
        while (have < hdr + want) {
            n = read(fd, buf + have, hdr + want - have);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        is_stream = memmem(buf + hdr, want, "\"stream\":true", 13) != NULL;
        if (is_stream) {
            if (stream(fd) < 0)
                goto out;
        } else {
            char head[256];
            int hl;
            sleep_ms(delay_ms);
            hl = snprintf(head, sizeof head,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                          "\r\nContent-Length: %zu\r\n\r\n",
                          sizeof reply - 1);
            char out[1024];
            memcpy(out, head, (size_t)hl);
            memcpy(out + hl, reply, sizeof reply - 1);
            if (put(fd, out, (size_t)hl + sizeof reply - 1) < 0)
                goto out;
        }
        if (have > hdr + want)
            memmove(buf, buf + hdr + want, have - hdr - want);
        have = have > hdr + want ? have - hdr - want : 0;
    }
out:
    close(fd);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int s, one = 1;
    FILE *pf;

    if (argc < 2) {
        fprintf(stderr, "usage: proxy_stub PORT_FILE [DELAY_MS [STREAM_MS]]\n");
        return 64;
    }
    if (argc > 2)
        delay_ms = strtol(argv[2], NULL, 10);
    if (argc > 3)
        stream_ms = strtol(argv[3], NULL, 10);
    signal(SIGPIPE, SIG_IGN);
    s = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s, 512) < 0 || getsockname(s, (struct sockaddr *)&a, &al) < 0) {
        perror("proxy_stub");
        return 71;
    }
    pf = fopen(argv[1], "w");
    if (pf == NULL) {
        perror(argv[1]);
        return 73;
    }
    fprintf(pf, "%u\n", ntohs(a.sin_port));
    fclose(pf);
    for (;;) {
        pthread_t th;
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (pthread_create(&th, NULL, conn, (void *)(intptr_t)c) != 0)
            close(c);
        else
            pthread_detach(th);
    }
}
