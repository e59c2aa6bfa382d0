/*
 * stub.h — starts and stops tests/stubs/stub.py (a loopback HTTP server
 * answering like Ollama, OpenAI-compatible servers and llama.cpp, and
 * misbehaving on demand) for the unit tests. Run from the repository root.
 */
#ifndef LDG_TEST_STUB_H
#define LDG_TEST_STUB_H

#include <sys/types.h>

struct t_stub {
    pid_t pid;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts the stub with the given state file (may be NULL); fails the
 * test if it does not come up. */
void t_stub_start(struct t_stub *s, const char *state_path);
/* Kills and reaps it. */
void t_stub_stop(struct t_stub *s);
/* A loopback port nothing listens on (bound, then closed). */
int t_unused_port(void);

#endif
