/* Load generator: PUSHes normd tensor messages `[{"dtype":"<f4","shape":[R,F],"seq":n}][R*F float32]`.
 *
 *   producer ENDPOINT FEATURES ROWS RATE DURATION_S BATCH TIMESTAMPS_FILE
 *
 * RATE = messages/s (fixed-rate mode, paced on CLOCK_MONOTONIC with absolute sleeps, catching up in
 * bursts when a sleep overshoots), or 0 = as fast as the socket takes them (max-rate mode; PUSH
 * blocks at its high-water mark, so the slowest stage downstream sets the pace).
 * The message count is rounded up so the total row count is a multiple of BATCH (no partial batch).
 * Every message's send time (CLOCK_MONOTONIC ns, taken just before zmq_send) is written, indexed by
 * seq, as raw uint64 to TIMESTAMPS_FILE: the consumer's receipt times are compared with them.
 * Payloads are 16 fixed pseudo-random N(20, 5) buffers sent zero-copy (zmq_msg_init_data), the same
 * bytes for every system under test. Prints one JSON summary line on stdout. */
#include "common.h"
#include <math.h>
#include <sys/prctl.h>

#define POOL 16

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: producer ENDPOINT FEATURES ROWS RATE DURATION_S BATCH TIMESTAMPS_FILE\n");
        return 64;
    }
    const char *endpoint = argv[1];
    long features = atol(argv[2]), rows = atol(argv[3]);
    double rate = atof(argv[4]), duration = atof(argv[5]);
    long batch = atol(argv[6]);
    const char *timestamps_path = argv[7];
    prctl(PR_SET_TIMERSLACK, 1UL);

    size_t payload_bytes = (size_t)rows * features * sizeof(float);
    float *pool[POOL];
    for (int p = 0; p < POOL; p++) {
        pool[p] = aligned_alloc(64, (payload_bytes + 63) / 64 * 64);
        for (long i = 0; i < rows * features; i++) {
            double u1 = uniform(), u2 = uniform();
            pool[p][i] = (float)(20.0 + 5.0 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        }
    }
    /* Messages per batch-aligned unit: the total row count must be a multiple of BATCH. */
    long unit = 1;
    while ((unit * rows) % batch != 0) unit++;
    /* Enough room for the largest run we can be asked for. */
    size_t capacity = rate > 0 ? (size_t)(rate * duration) + unit + 16 : (size_t)(4.0e6 * duration) + unit + 16;
    uint64_t *sent_at = calloc(capacity, sizeof(uint64_t));
    if (!sent_at) { perror("calloc"); return 2; }

    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 10000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    attach(push, endpoint);

    char header[128];
    uint64_t target = rate > 0 ? (uint64_t)(rate * duration) : 0;
    if (target) target = (target + unit - 1) / unit * unit;
    uint64_t seq = 0;
    uint64_t start = 0, deadline = 0;
    double interval_ns = rate > 0 ? 1e9 / rate : 0;
    for (;;) {
        if (rate > 0) {
            if (seq >= target) break;
            if (seq > 0) {
                uint64_t due = start + (uint64_t)(seq * interval_ns);
                uint64_t now = now_ns();
                if (now < due) {
                    struct timespec ts = { .tv_sec = due / 1000000000ull, .tv_nsec = due % 1000000000ull };
                    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                }
            }
        } else if (seq > 0 && seq % unit == 0 && now_ns() >= deadline) {
            break;
        }
        if (seq >= capacity) break;
        int length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld],\"seq\":%llu}",
                              rows, features, (unsigned long long)seq);
        zmq_msg_t payload;
        zmq_msg_init_data(&payload, pool[seq % POOL], payload_bytes, NULL, NULL);
        uint64_t t = now_ns();
        if (seq == 0) { start = t; deadline = t + (uint64_t)(duration * 1e9); }
        sent_at[seq] = t;
        if (zmq_send(push, header, (size_t)length, ZMQ_SNDMORE) < 0) die("send header");
        if (zmq_msg_send(&payload, push, 0) < 0) die("send payload");
        seq++;
    }
    uint64_t end = now_ns();
    /* Hold still before the teardown below (the file write, zmq_ctx_term, the process exit, and the
     * harness waking up on it): on a 2-core machine that work competes for a core with the system
     * under test while it still carries the last messages, and at 1-row messages normd's last batch
     * is one of only ~75 latency samples, so it set the phase's p99 (BENCHMARKS.md, "p99 over enough samples"). */
    struct timespec settle = { .tv_sec = 0, .tv_nsec = 300 * 1000000L };
    nanosleep(&settle, NULL);
    FILE *file = fopen(timestamps_path, "wb");
    if (!file || fwrite(sent_at, sizeof(uint64_t), seq, file) != seq) { perror(timestamps_path); return 2; }
    fclose(file);
    double seconds = (end - start) / 1e9;
    printf("{\"messages\":%llu,\"rows\":%llu,\"seconds\":%.6f,\"messages_per_s\":%.1f}\n",
           (unsigned long long)seq, (unsigned long long)(seq * rows), seconds, seq / seconds);
    fflush(stdout);
    zmq_close(push);
    zmq_ctx_term(ctx);
    return 0;
}
