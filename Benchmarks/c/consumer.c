/* Consumer: PULLs messages `[header][payload]` (normd's tensor output, or the producer's messages as
 * forwarded), timestamps each receipt and records, per message: receipt time (CLOCK_MONOTONIC ns,
 * after its last frame), the first and the last `"seq":N` in the header (normd and the Python
 * sidecar list every source message in row order, so the last one is the message whose row completed
 * the batch; a forwarded message has one), its rows and bytes.
 *
 *   consumer ENDPOINT FEATURES EXPECTED_ROWS RECORDS_FILE
 *
 * Stops after EXPECTED_ROWS rows, or 2 s after the last message (60 s before the first).
 * Records are raw little-endian {u64 recv_ns, u64 first_seq, u64 last_seq, u64 rows, u64 bytes}.
 * Prints one JSON summary line. */
#include "common.h"

typedef struct { uint64_t recv_ns, first_seq, last_seq, rows, bytes; } record_t;

static uint64_t parse_seq(const char *p, const char *end) {
    uint64_t v = 0;
    while (p < end && *p == ' ') p++;
    while (p < end && *p >= '0' && *p <= '9') { v = v * 10 + (uint64_t)(*p - '0'); p++; }
    return v;
}

/* First and last "seq": in the header; UINT64_MAX when absent. */
static void scan_seqs(const char *h, size_t n, uint64_t *first, uint64_t *last) {
    static const char key[] = "\"seq\":";
    const size_t k = sizeof key - 1;
    *first = *last = UINT64_MAX;
    const char *found = memmem(h, n, key, k);
    if (!found) return;
    *first = parse_seq(found + k, h + n);
    for (const char *p = h + n - k; p >= found; p--) {
        if (*p == '"' && memcmp(p, key, k) == 0) { *last = parse_seq(p + k, h + n); return; }
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: consumer ENDPOINT FEATURES EXPECTED_ROWS RECORDS_FILE\n");
        return 64;
    }
    const char *endpoint = argv[1];
    long features = atol(argv[2]);
    uint64_t expected = strtoull(argv[3], NULL, 10);
    const char *records_path = argv[4];

    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int timeout = 60000;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    attach(pull, endpoint);

    size_t capacity = 1 << 20, count = 0;
    record_t *records = malloc(capacity * sizeof *records);
    zmq_msg_t header, frame;
    zmq_msg_init(&header);
    zmq_msg_init(&frame);
    uint64_t rows_total = 0, bytes_total = 0, malformed = 0;
    while (rows_total < expected) {
        if (zmq_msg_recv(&header, pull, 0) < 0) {
            if (zmq_errno() == EAGAIN) break;  /* idle: the system under test stopped sending */
            die("receive");
        }
        size_t payload = 0;
        int frames = 1;
        while (zmq_msg_more(frames == 1 ? &header : &frame)) {
            if (zmq_msg_recv(&frame, pull, 0) < 0) die("receive frame");
            payload = zmq_msg_size(&frame);
            frames++;
        }
        uint64_t t = now_ns();
        if (frames != 2) { malformed++; continue; }
        if (count == 0) { timeout = 2000; zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout); }
        if (count == capacity) { capacity *= 2; records = realloc(records, capacity * sizeof *records); }
        record_t *r = &records[count++];
        r->recv_ns = t;
        scan_seqs(zmq_msg_data(&header), zmq_msg_size(&header), &r->first_seq, &r->last_seq);
        r->rows = payload / (sizeof(float) * (size_t)features);
        r->bytes = payload + zmq_msg_size(&header);
        rows_total += r->rows;
        bytes_total += payload;
    }
    FILE *file = fopen(records_path, "wb");
    if (!file || fwrite(records, sizeof *records, count, file) != count) { perror(records_path); return 2; }
    fclose(file);
    double seconds = count > 1 ? (records[count - 1].recv_ns - records[0].recv_ns) / 1e9 : 0;
    printf("{\"messages\":%zu,\"rows\":%llu,\"payload_bytes\":%llu,\"malformed\":%llu,\"seconds\":%.6f}\n",
           count, (unsigned long long)rows_total, (unsigned long long)bytes_total, (unsigned long long)malformed, seconds);
    fflush(stdout);
    zmq_msg_close(&header);
    zmq_msg_close(&frame);
    int linger = 0;
    zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return 0;
}
