/* Soak consumer: PULLs normd's tensor batches and records which rows and batches arrived.
 *
 *   soak-consumer ENDPOINT FEATURES PRODUCERS STALL_FIRST_S STALL_EVERY_S STALL_FOR_S DONE_FILE OUT_PREFIX
 *
 * Every row's identity (P, g) comes from columns 0-2 (see producer.c); a bitmap per producer marks
 * the rows seen, a row seen twice counts as a duplicate, a row whose identity is not an exact
 * producer/row number counts as foreign (a bad message's rows, or corrupted data). A bitmap of the
 * header's `"batch":N` does the same for batch numbers; rows of `"mode":"infer"` batches are counted
 * apart (they update no statistics).
 * Stalling: with STALL_FOR_S > 0, it stops reading for STALL_FOR_S seconds at STALL_FIRST_S after
 * start, and again every STALL_EVERY_S after that if STALL_EVERY_S > 0, so normd's PUSH meets a full
 * consumer.
 * It stops once DONE_FILE exists (the soak creates it after normd exited) and nothing arrived for 1 s.
 * Writes OUT_PREFIX.p<P>.bits (one per producer) and OUT_PREFIX.batches.bits (bit i = bit i%8 of
 * byte i/8) and prints one JSON line (first_ns/last_ns: CLOCK_MONOTONIC of the first and last receipt). */
#include "../c/common.h"
#include <sys/stat.h>
#include <unistd.h>

typedef struct { uint8_t *bits; uint64_t bytes; } bitmap_t;

/* Sets bit i; returns 1 if it was already set. Grows (zero-filled) as needed. */
static int mark(bitmap_t *map, uint64_t i) {
    uint64_t byte = i / 8;
    if (byte >= map->bytes) {
        uint64_t bytes = map->bytes ? map->bytes : 1 << 16;
        while (bytes <= byte) bytes *= 2;
        map->bits = realloc(map->bits, bytes);
        if (!map->bits) { perror("realloc"); exit(2); }
        memset(map->bits + map->bytes, 0, bytes - map->bytes);
        map->bytes = bytes;
    }
    int was = (map->bits[byte] >> (i % 8)) & 1;
    map->bits[byte] |= (uint8_t)(1u << (i % 8));
    return was;
}

static void save(const bitmap_t *map, const char *path) {
    /* Trailing zero bytes carry nothing: cut them. */
    uint64_t bytes = map->bytes;
    while (bytes > 0 && map->bits[bytes - 1] == 0) bytes--;
    FILE *file = fopen(path, "wb");
    if (!file || (bytes && fwrite(map->bits, 1, bytes, file) != bytes) || fclose(file) != 0) { perror(path); exit(2); }
}

/* The number after `"key":` in the header, or -1. */
static long long header_number(const char *h, size_t n, const char *key) {
    size_t k = strlen(key);
    const char *found = memmem(h, n, key, k);
    if (!found) return -1;
    const char *p = found + k, *end = h + n;
    if (p >= end || *p < '0' || *p > '9') return -1;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return v;
}

static int exact_count(float x, double limit) { return x >= 0 && (double)x < limit && x == (float)(long long)x; }

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: soak-consumer ENDPOINT FEATURES PRODUCERS STALL_FIRST_S STALL_EVERY_S STALL_FOR_S DONE_FILE OUT_PREFIX\n");
        return 64;
    }
    const char *endpoint = argv[1];
    long features = atol(argv[2]);
    int producers = atoi(argv[3]);
    double stall_first = atof(argv[4]), stall_every = atof(argv[5]), stall_for = atof(argv[6]);
    const char *done_file = argv[7], *prefix = argv[8];
    if (features < 4 || producers < 1 || producers > 64) { fprintf(stderr, "soak-consumer: FEATURES >= 4, 1 <= PRODUCERS <= 64\n"); return 64; }

    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int timeout = 200;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    attach(pull, endpoint);

    bitmap_t rows_seen[64] = {{0}}, batches_seen = {0};
    uint64_t messages = 0, rows = 0, infer_rows = 0, duplicate_rows = 0, duplicate_batches = 0, foreign_rows = 0;
    uint64_t bad_messages = 0, stalls = 0, first_ns = 0, last_ns = 0;
    long long max_batch = -1;
    uint64_t start = now_ns(), next_stall = stall_for > 0 ? start + (uint64_t)(stall_first * 1e9) : UINT64_MAX;
    zmq_msg_t header, frame;
    zmq_msg_init(&header);
    zmq_msg_init(&frame);
    const size_t row_bytes = (size_t)features * sizeof(float);
    for (;;) {
        uint64_t now = now_ns();
        if (now >= next_stall) {
            struct timespec ts = {.tv_sec = (time_t)stall_for, .tv_nsec = (long)((stall_for - (time_t)stall_for) * 1e9)};
            nanosleep(&ts, NULL);
            stalls++;
            next_stall = stall_every > 0 ? next_stall + (uint64_t)(stall_every * 1e9) : UINT64_MAX;
            continue;
        }
        if (zmq_msg_recv(&header, pull, 0) < 0) {
            if (zmq_errno() != EAGAIN) die("receive");
            struct stat st;
            if (stat(done_file, &st) == 0 && now_ns() - (last_ns ? last_ns : start) > 1000000000ull) break;
            continue;
        }
        int frames = 1;
        size_t payload = 0;
        const float *data = NULL;
        while (zmq_msg_more(frames == 1 ? &header : &frame)) {
            if (zmq_msg_recv(&frame, pull, 0) < 0) die("receive frame");
            payload = zmq_msg_size(&frame);
            data = zmq_msg_data(&frame);
            frames++;
        }
        last_ns = now_ns();
        if (!first_ns) first_ns = last_ns;
        messages++;
        const char *h = zmq_msg_data(&header);
        size_t hn = zmq_msg_size(&header);
        long long batch = header_number(h, hn, "\"batch\":");
        if (frames != 2 || batch < 0 || payload % row_bytes != 0) { bad_messages++; continue; }
        if (mark(&batches_seen, (uint64_t)batch)) duplicate_batches++;
        if (batch > max_batch) max_batch = batch;
        uint64_t n = payload / row_bytes;
        rows += n;
        if (memmem(h, hn, "\"mode\":\"infer\"", 14)) infer_rows += n;
        for (uint64_t r = 0; r < n; r++) {
            const float *row = data + r * (uint64_t)features;
            if (!exact_count(row[0], 1 << 22) || !exact_count(row[1], 1 << 22) || !exact_count(row[2], producers)) {
                foreign_rows++;
                continue;
            }
            uint64_t g = ((uint64_t)row[0] << 22) | (uint64_t)row[1];
            if (mark(&rows_seen[(int)row[2]], g)) duplicate_rows++;
        }
    }
    char path[4096];
    for (int p = 0; p < producers; p++) {
        snprintf(path, sizeof path, "%s.p%d.bits", prefix, p);
        save(&rows_seen[p], path);
    }
    snprintf(path, sizeof path, "%s.batches.bits", prefix);
    save(&batches_seen, path);
    printf("{\"messages\":%llu,\"rows\":%llu,\"infer_rows\":%llu,\"duplicate_rows\":%llu,\"duplicate_batches\":%llu,"
           "\"foreign_rows\":%llu,\"bad_messages\":%llu,\"max_batch\":%lld,\"stalls\":%llu,\"first_ns\":%llu,\"last_ns\":%llu}\n",
           (unsigned long long)messages, (unsigned long long)rows, (unsigned long long)infer_rows,
           (unsigned long long)duplicate_rows, (unsigned long long)duplicate_batches, (unsigned long long)foreign_rows,
           (unsigned long long)bad_messages, max_batch, (unsigned long long)stalls,
           (unsigned long long)first_ns, (unsigned long long)last_ns);
    int zero = 0;
    zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return 0;
}
