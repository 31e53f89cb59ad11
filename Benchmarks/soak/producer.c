/* Soak producer: PUSHes normd tensor messages at a fixed rate; every BAD_EVERY-th message is
 * malformed, cycling through the rejection reasons normd counts.
 *
 *   soak-producer ENDPOINT FEATURES ROWS RATE DURATION_S PRODUCER BAD_EVERY MAX_MESSAGE_BYTES
 *
 * RATE: messages/s, good and bad together (paced on CLOCK_MONOTONIC, catching up in bursts after a
 * late wake-up; PUSH blocks when normd's queue is full, so the achieved rate is printed); 0 = as fast
 * as the socket takes them (the rate probe). BAD_EVERY: 10 = 10 % bad; 0 = none.
 *
 * Good messages `{"dtype":"<f4","shape":[ROWS,FEATURES],"seq":n,"producer":"soak-P"}` are numbered
 * from 0 without gaps (bad messages carry no seq, so normd's gap counter must stay 0). Every good row
 * carries its identity in the three columns the soak configuration leaves to no stage:
 *   column 0 = g >> 22, column 1 = g & (2^22 - 1), column 2 = P   (g = n * ROWS + row: exact in Float32)
 * the other columns are N(20, 5). Consumers rebuild (P, g) and check each row arrives exactly once.
 *
 * Bad messages, in turn (the label is normd's `messages_rejected` reason):
 *   malformed_header  a header that is not JSON            wrong_width  ROWS x (FEATURES+1)
 *   non_finite        a NaN or +inf in a good-shaped row    oversize     3 frames, each within MAX_MESSAGE_BYTES, 1 byte more in all
 *   payload_size      4 bytes short of the header's shape   dtype        ">f4" (big-endian)
 *   frame_count       one frame (header only)               shape        [ROWS, FEATURES, 1]
 * Prints one JSON line: messages, good messages and rows, bad messages by reason, seconds, rate. */
#include "../c/common.h"
#include <math.h>
#include <sys/prctl.h>

enum { MALFORMED_HEADER, WRONG_WIDTH, NON_FINITE, OVERSIZE, PAYLOAD_SIZE, DTYPE, FRAME_COUNT, SHAPE, KINDS };
static const char *reasons[KINDS] = {"malformed_header", "wrong_width", "non_finite", "oversize",
                                     "payload_size", "dtype", "frame_count", "shape"};

#define POOL 65536
static float pool[POOL];
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static void send_frames(void *push, const char *header, size_t header_length, const void *payload, size_t payload_bytes) {
    if (zmq_send(push, header, header_length, payload ? ZMQ_SNDMORE : 0) < 0) die("send header");
    if (payload && zmq_send(push, payload, payload_bytes, 0) < 0) die("send payload");
}

/* Fills `rows` x `width` floats: identity columns for good rows, N(20, 5) elsewhere. */
static void fill(float *buffer, long rows, long width, uint64_t first_row, int producer, uint64_t *cursor) {
    for (long r = 0; r < rows; r++) {
        float *row = buffer + r * width;
        uint64_t g = first_row + (uint64_t)r;
        row[0] = (float)(g >> 22);
        row[1] = (float)(g & ((1u << 22) - 1));
        row[2] = (float)producer;
        for (long c = 3; c < width; c++) row[c] = pool[(*cursor)++ % POOL];
    }
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: soak-producer ENDPOINT FEATURES ROWS RATE DURATION_S PRODUCER BAD_EVERY MAX_MESSAGE_BYTES\n");
        return 64;
    }
    const char *endpoint = argv[1];
    long features = atol(argv[2]), rows = atol(argv[3]);
    double rate = atof(argv[4]), duration = atof(argv[5]);
    int producer = atoi(argv[6]);
    long bad_every = atol(argv[7]), max_message_bytes = atol(argv[8]);
    if (features < 4 || rows < 2 || rate < 0 || duration <= 0 || bad_every < 0 || max_message_bytes <= 0) {
        fprintf(stderr, "soak-producer: FEATURES >= 4, ROWS >= 2, RATE >= 0, DURATION_S > 0, BAD_EVERY >= 0, MAX_MESSAGE_BYTES > 0\n");
        return 64;
    }
    prctl(PR_SET_TIMERSLACK, 1UL);
    for (int i = 0; i < POOL; i++) {
        double u1 = uniform(), u2 = uniform();
        pool[i] = (float)(20.0 + 5.0 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
    /* The most rows whose payload frame fits in MAX_MESSAGE_BYTES (the OVERSIZE case adds a filler frame). */
    long oversize_rows = (max_message_bytes - 256) / (features * (long)sizeof(float));
    long capacity_floats = (oversize_rows > rows ? oversize_rows : rows) * (features + 1);
    if (capacity_floats < max_message_bytes / (long)sizeof(float) + 1) capacity_floats = max_message_bytes / (long)sizeof(float) + 1;
    float *buffer = malloc((size_t)capacity_floats * sizeof(float));
    if (!buffer) { perror("malloc"); return 2; }

    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = -1; /* at exit, wait until every message is handed to the connection */
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    attach(push, endpoint);

    char header[256];
    uint64_t sent = 0, good = 0, cursor = (uint64_t)producer * 7919, bad[KINDS] = {0};
    uint64_t start = now_ns(), end_at = start + (uint64_t)(duration * 1e9), max_behind = 0;
    double interval_ns = rate > 0 ? 1e9 / rate : 0;
    size_t good_bytes = (size_t)(rows * features) * sizeof(float);
    for (;;) {
        uint64_t now = now_ns();
        if (now >= end_at) break;
        if (rate > 0) {
            uint64_t due = start + (uint64_t)(sent * interval_ns);
            if (due >= end_at) break;
            if (now < due) {
                struct timespec ts = {.tv_sec = due / 1000000000ull, .tv_nsec = due % 1000000000ull};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            } else if (now - due > max_behind) {
                max_behind = now - due;
            }
        }
        int length;
        if (bad_every > 0 && sent % (uint64_t)bad_every == (uint64_t)bad_every - 1) {
            int kind = (int)((sent / (uint64_t)bad_every) % KINDS);
            /* Bad rows carry an identity far beyond any good row's, so a leaked one is noticed. */
            uint64_t poison = (1ull << 40) + sent * (uint64_t)rows;
            switch (kind) {
            case MALFORMED_HEADER:
                length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld]", rows, features);
                fill(buffer, rows, features, poison, producer, &cursor);
                send_frames(push, header, (size_t)length, buffer, good_bytes);
                break;
            case WRONG_WIDTH:
                length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld]}", rows, features + 1);
                fill(buffer, rows, features + 1, poison, producer, &cursor);
                send_frames(push, header, (size_t)length, buffer, (size_t)(rows * (features + 1)) * sizeof(float));
                break;
            case NON_FINITE:
                length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld]}", rows, features);
                fill(buffer, rows, features, poison, producer, &cursor);
                buffer[features + 3] = (bad[kind] % 2) ? INFINITY : NAN; /* row 1, column 3 */
                send_frames(push, header, (size_t)length, buffer, good_bytes);
                break;
            case OVERSIZE:
                /* Every frame within MAX_MESSAGE_BYTES (libzmq's per-frame maxmsgsize, which would drop the
                 * connection), the message as a whole one byte over it: normd refuses it as `oversize`. */
                length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld]}", oversize_rows, features);
                fill(buffer, oversize_rows, features, poison, producer, &cursor);
                {
                    size_t payload = (size_t)(oversize_rows * features) * sizeof(float);
                    size_t filler = (size_t)max_message_bytes + 1 - payload - (size_t)length;
                    if (zmq_send(push, header, (size_t)length, ZMQ_SNDMORE) < 0) die("send header");
                    if (zmq_send(push, buffer, payload, ZMQ_SNDMORE) < 0) die("send payload");
                    if (zmq_send(push, buffer, filler, 0) < 0) die("send filler");
                }
                break;
            case PAYLOAD_SIZE:
                length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld]}", rows, features);
                fill(buffer, rows, features, poison, producer, &cursor);
                send_frames(push, header, (size_t)length, buffer, good_bytes - sizeof(float));
                break;
            case DTYPE:
                length = snprintf(header, sizeof header, "{\"dtype\":\">f4\",\"shape\":[%ld,%ld]}", rows, features);
                fill(buffer, rows, features, poison, producer, &cursor);
                send_frames(push, header, (size_t)length, buffer, good_bytes);
                break;
            case FRAME_COUNT:
                length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld]}", rows, features);
                send_frames(push, header, (size_t)length, NULL, 0);
                break;
            default: /* SHAPE */
                length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld,1]}", rows, features);
                fill(buffer, rows, features, poison, producer, &cursor);
                send_frames(push, header, (size_t)length, buffer, good_bytes);
                break;
            }
            bad[kind]++;
        } else {
            length = snprintf(header, sizeof header, "{\"dtype\":\"<f4\",\"shape\":[%ld,%ld],\"seq\":%llu,\"producer\":\"soak-%d\"}",
                              rows, features, (unsigned long long)good, producer);
            fill(buffer, rows, features, good * (uint64_t)rows, producer, &cursor);
            send_frames(push, header, (size_t)length, buffer, good_bytes);
            good++;
        }
        sent++;
    }
    double seconds = (now_ns() - start) / 1e9;
    zmq_close(push);
    zmq_ctx_term(ctx); /* returns once everything is handed over (linger -1) */
    double drained = (now_ns() - start) / 1e9;
    printf("{\"producer\":%d,\"messages\":%llu,\"good_messages\":%llu,\"good_rows\":%llu,\"bad\":{",
           producer, (unsigned long long)sent, (unsigned long long)good, (unsigned long long)(good * (uint64_t)rows));
    for (int k = 0; k < KINDS; k++) printf("%s\"%s\":%llu", k ? "," : "", reasons[k], (unsigned long long)bad[k]);
    printf("},\"seconds\":%.3f,\"seconds_until_handed_over\":%.3f,\"messages_per_s\":%.1f,\"max_behind_ms\":%.1f}\n",
           seconds, drained, sent / seconds, max_behind / 1e6);
    free(buffer);
    return 0;
}
