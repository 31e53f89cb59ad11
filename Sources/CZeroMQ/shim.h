#ifndef NORMD_CZEROMQ_SHIM_H
#define NORMD_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
