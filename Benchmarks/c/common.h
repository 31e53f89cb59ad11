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
/* With BENCH_CURVE_SERVER, BENCH_CURVE_PUBLIC and BENCH_CURVE_SECRET (Z85) in the environment the
 * socket is a CURVE client of that server (the normd-curve system of harness.py). */
static inline void curve_client(void *socket) {
    const char *server = getenv("BENCH_CURVE_SERVER"), *pub = getenv("BENCH_CURVE_PUBLIC"), *sec = getenv("BENCH_CURVE_SECRET");
    if (!server || !pub || !sec) return;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server, 40) != 0 || zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0
        || zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, sec, 40) != 0) die("curve keys");
}

static inline void attach(void *socket, const char *spec) {
    curve_client(socket);
    if (strncmp(spec, "bind:", 5) == 0) {
        if (zmq_bind(socket, spec + 5) != 0) die(spec);
    } else {
        if (zmq_connect(socket, spec) != 0) die(spec);
    }
}
#endif
