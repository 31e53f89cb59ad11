/* The bare floor of one sync-group stage: what libzmq and the scheduler cost before normd does any
 * work (Benchmarks/sync_bench.py, BENCHMARKS.md "Sync groups").
 *
 *   gather_scatter [-w WORK_US] MEMBERS STEPS WARMUP CONTRIBUTION:RESULT [CONTRIBUTION:RESULT ...]
 *
 * One process, MEMBERS threads, each with its own ZeroMQ context (so its own I/O thread), as the
 * members of sync_bench.py are the pipelines of one normd, each a thread with its own context.
 * Rank 0 binds a ROUTER on tcp://127.0.0.1 (an ephemeral port); ranks 1..MEMBERS-1 connect a
 * DEALER to it. A step is one stage per CONTRIBUTION:RESULT pair (byte sizes of the frames), in
 * order; a stage is a barrier, as in normd: every rank above 0 sends a CONTRIBUTION-byte frame and
 * waits for its result; rank 0 gathers the MEMBERS-1 frames, then sends each sender a RESULT-byte
 * frame. Nothing is decoded, checked or merged: the gap between this and normd is normd's own.
 *
 * Rank 0 times every step (from the end of the previous one: the next step starts as soon as the
 * ranks have their results, so that is the step's latency) and prints one JSON line:
 * {"members":N,"stages":S,"steps":K,"median_step_us":…,"p10_step_us":…,"p90_step_us":…}.
 * With MEMBERS = 1 there is nothing to exchange: the step time is 0.
 *
 * `-w WORK_US` makes every rank spin WORK_US microseconds of CPU before each stage's exchange (what a
 * member computes per stage: its moments, then training from the merged ones), to show what a
 * barrier per stage costs when the members' work cannot all run at once (more members than cores). */
#include "common.h"
#include <pthread.h>

#define MAX_STAGES 16
#define MAX_MEMBERS 64

static int members, steps, warmup, stage_count, work_us;
static size_t contribution_bytes[MAX_STAGES], result_bytes[MAX_STAGES];
static char endpoint[64];
static pthread_mutex_t bound_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bound_cond = PTHREAD_COND_INITIALIZER;
static int bound;

/* Busy for `work_us` microseconds of wall time (the thread stays runnable, as a computing member does). */
static void work(void) {
    if (work_us <= 0) return;
    uint64_t until = now_ns() + (uint64_t)work_us * 1000u;
    while (now_ns() < until) {}
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void *member(void *argument) {
    const int rank = (int)(intptr_t)argument;
    void *context = zmq_ctx_new();
    char *buffer = malloc(1 << 16), *frame = malloc(1 << 16);
    if (!buffer || !frame) die("malloc");
    memset(frame, 'x', 1 << 16);
    if (rank == 0) {
        void *router = zmq_socket(context, ZMQ_ROUTER);
        if (zmq_bind(router, "tcp://127.0.0.1:*") != 0) die("bind");
        size_t length = sizeof endpoint;
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &length);
        pthread_mutex_lock(&bound_lock);
        bound = 1;
        pthread_cond_broadcast(&bound_cond);
        pthread_mutex_unlock(&bound_lock);
        uint64_t *durations = calloc((size_t)steps, sizeof *durations);
        unsigned char routes[MAX_MEMBERS][256];
        size_t route_length[MAX_MEMBERS];
        uint64_t previous = now_ns();
        for (int step = 0; step < warmup + steps; step++) {
            for (int stage = 0; stage < stage_count; stage++) {
                work();
                for (int got = 0; got < members - 1; got++) {
                    int size = zmq_recv(router, routes[got], sizeof routes[got], 0);
                    if (size < 0) die("recv route");
                    route_length[got] = (size_t)size;
                    if (zmq_recv(router, buffer, 1 << 16, 0) < 0) die("recv contribution");
                }
                for (int to = 0; to < members - 1; to++) {
                    if (zmq_send(router, routes[to], route_length[to], ZMQ_SNDMORE) < 0) die("send route");
                    if (zmq_send(router, frame, result_bytes[stage], 0) < 0) die("send result");
                }
            }
            uint64_t now = now_ns();
            if (step >= warmup) durations[step - warmup] = now - previous;
            previous = now;
        }
        qsort(durations, (size_t)steps, sizeof *durations, compare);
        printf("{\"members\":%d,\"work_us\":%d,\"stages\":%d,\"steps\":%d,\"median_step_us\":%.1f,\"p10_step_us\":%.1f,\"p90_step_us\":%.1f}\n", members,
               work_us, stage_count, steps, durations[steps / 2] / 1e3, durations[steps / 10] / 1e3, durations[steps * 9 / 10] / 1e3);
        free(durations);
        zmq_close(router);
    } else {
        pthread_mutex_lock(&bound_lock);
        while (!bound) pthread_cond_wait(&bound_cond, &bound_lock);
        pthread_mutex_unlock(&bound_lock);
        void *dealer = zmq_socket(context, ZMQ_DEALER);
        if (zmq_connect(dealer, endpoint) != 0) die("connect");
        for (int step = 0; step < warmup + steps; step++) {
            for (int stage = 0; stage < stage_count; stage++) {
                work();
                if (zmq_send(dealer, frame, contribution_bytes[stage], 0) < 0) die("send contribution");
                if (zmq_recv(dealer, buffer, 1 << 16, 0) < 0) die("recv result");
            }
        }
        zmq_close(dealer);
    }
    free(buffer);
    free(frame);
    zmq_ctx_term(context);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "-w") == 0) {
        work_us = atoi(argv[2]);
        argv += 2;
        argc -= 2;
    }
    if (argc < 5 || work_us < 0) {
        fprintf(stderr, "usage: gather_scatter [-w WORK_US] MEMBERS STEPS WARMUP CONTRIBUTION:RESULT [CONTRIBUTION:RESULT ...]\n");
        return 64;
    }
    members = atoi(argv[1]);
    steps = atoi(argv[2]);
    warmup = atoi(argv[3]);
    stage_count = argc - 4;
    if (members < 1 || members > MAX_MEMBERS || steps < 1 || warmup < 0 || stage_count > MAX_STAGES) {
        fprintf(stderr, "gather_scatter: 1 <= MEMBERS <= %d, STEPS >= 1, WARMUP >= 0, at most %d stages\n", MAX_MEMBERS, MAX_STAGES);
        return 64;
    }
    for (int stage = 0; stage < stage_count; stage++) {
        unsigned long c, r;
        if (sscanf(argv[4 + stage], "%lu:%lu", &c, &r) != 2 || c < 1 || r < 1 || c > (1 << 16) || r > (1 << 16)) {
            fprintf(stderr, "gather_scatter: bad CONTRIBUTION:RESULT '%s' (1..65536 bytes each)\n", argv[4 + stage]);
            return 64;
        }
        contribution_bytes[stage] = c;
        result_bytes[stage] = r;
    }
    if (members == 1) {
        printf("{\"members\":1,\"work_us\":%d,\"stages\":%d,\"steps\":%d,\"median_step_us\":0,\"p10_step_us\":0,\"p90_step_us\":0}\n", work_us, stage_count, steps);
        return 0;
    }
    pthread_t threads[MAX_MEMBERS];
    for (int rank = 0; rank < members; rank++) {
        if (pthread_create(&threads[rank], NULL, member, (void *)(intptr_t)rank) != 0) {
            perror("pthread_create");
            return 2;
        }
    }
    for (int rank = 0; rank < members; rank++) pthread_join(threads[rank], NULL);
    return 0;
}
