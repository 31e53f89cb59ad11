/* The ceiling: a bare libzmq forwarder, PULL (bind IN) -> zmq_proxy -> PUSH (bind OUT), no decoding,
 * no batching, no normalization. Runs until killed (SIGTERM).
 *
 *   forwarder IN_ENDPOINT OUT_ENDPOINT */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: forwarder IN_ENDPOINT OUT_ENDPOINT\n");
        return 64;
    }
    void *ctx = zmq_ctx_new();
    void *in = zmq_socket(ctx, ZMQ_PULL);
    void *out = zmq_socket(ctx, ZMQ_PUSH);
    if (zmq_bind(in, argv[1]) != 0) die(argv[1]);
    if (zmq_bind(out, argv[2]) != 0) die(argv[2]);
    fprintf(stderr, "forwarder ready\n");
    zmq_proxy(in, out, NULL);
    return 0;
}
