/* Shared helpers for the normd benchmark load generator, consumer and forwarder. */
#ifndef NORMD_BENCH_COMMON_H
#define NORMD_BENCH_COMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(2);
}

/* "bind:tcp://..." binds, anything else connects. */
static inline void attach(void *socket, const char *spec) {
    if (strncmp(spec, "bind:", 5) == 0) {
        if (zmq_bind(socket, spec + 5) != 0) die(spec);
    } else {
        if (zmq_connect(socket, spec) != 0) die(spec);
    }
}
#endif
