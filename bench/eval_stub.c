/*
 * eval_stub.c — an OpenAI-compatible endpoint for the eval benchmark that
 * answers every POST .../chat/completions after DELAY_MS, in C, so the
 * benchmark measures `ledger eval run` and not a starved Python stub
 * (tests/stubs/stub.py answered in ~52 ms instead of 5 on a loaded box).
 *
 *   build/bench/eval_stub PORT_FILE [DELAY_MS]
 *
 * Binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and serves
 * HTTP/1.1 with keep-alive, one thread per connection, until killed. The
 * reply is {"choices":[{"message":{"role":"assistant","content":"ok"}}]}.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long delay_ms = 5;

static const char reply[] =
    "{\"id\":\"stub\",\"object\":\"chat.completion\",\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}";

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
        while (have < hdr + want) { /* the body: read and dropped */
            char sink[65536];
            size_t room = hdr + want - have;
            n = read(fd, sink, room < sizeof sink ? room : sizeof sink);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        {
            struct timespec ts = {delay_ms / 1000,
                                  (delay_ms % 1000) * 1000000L};
            char head[256];
            int hl;
            nanosleep(&ts, NULL);
            hl = snprintf(head, sizeof head,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                          "\r\nContent-Length: %zu\r\n\r\n",
                          sizeof reply - 1);
            if (write(fd, head, (size_t)hl) != hl ||
                write(fd, reply, sizeof reply - 1) !=
                    (ssize_t)(sizeof reply - 1))
                goto out;
        }
        /* keep what followed this request (pipelining is not expected) */
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
        fprintf(stderr, "usage: eval_stub PORT_FILE [DELAY_MS]\n");
        return 64;
    }
    if (argc > 2)
        delay_ms = strtol(argv[2], NULL, 10);
    /* a client that closes while its answer is written (curl at its end)
     * must not kill the stub for the next run */
    signal(SIGPIPE, SIG_IGN);
    s = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s, 128) < 0 || getsockname(s, (struct sockaddr *)&a, &al) < 0) {
        perror("eval_stub");
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
