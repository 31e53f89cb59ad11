/*
 * normd_stage.h — the C ABI of normd run-time stage plugins.
 *
 * A plugin is a shared library that exports one function, `normd_stage_plugin_entry`, returning a
 * static table: a header (ABI version, struct size, plugin name) and one vtable per stage kind it
 * provides. normd loads it with dlopen(path, RTLD_NOW | RTLD_LOCAL), checks the handshake, and
 * registers each kind next to the built-in stages, usable as `type:` in a pipeline's `stages:`.
 *
 * The ABI is plain C so a plugin can be written in C, C++, Rust or Swift (`@_cdecl`) and keeps
 * working across compiler upgrades: no Swift, C++ or Rust type crosses the boundary.
 *
 * VERSIONING
 *   NORMD_STAGE_ABI_VERSION changes whenever an existing field, signature or rule changes. The host
 *   refuses a plugin whose `abi_version` differs from its own. Within one version, new optional
 *   fields may only be appended to a struct; every struct the plugin hands out starts with
 *   `struct_size` = sizeof as the plugin was compiled, and the host refuses a struct smaller than
 *   it needs ("built against another header") and ignores bytes beyond the fields it knows.
 *   A stage's `state_version` versions its saved statistics, independently of the ABI.
 *
 * OWNERSHIP
 *   - Everything the entry returns (header, vtables, strings) is owned by the plugin and must stay
 *     valid and unchanged while the library is loaded. normd never unloads a plugin library.
 *   - Buffers the host passes (config JSON, batch values, error buffers, names, state arrays) are
 *     owned by the host and valid only during the call: copy what you need; never keep the pointer.
 *   - An instance (`void *`) is created by `create` and owned by the plugin; the host calls
 *     `destroy` exactly once for every instance `create` returned successfully.
 *
 * THREADING
 *   - The host calls one instance from one thread at a time (never concurrently), but successive
 *     calls may come from different threads.
 *   - Different instances of the same kind may be called concurrently from different threads (one
 *     per pipeline): a plugin must not share mutable global state between instances without locks.
 *   - `normd_stage_plugin_entry` may be called more than once and from any thread; it must return
 *     the same table each time and must not fail other than by returning NULL.
 *
 * ERRORS
 *   Functions that can fail return NORMD_STAGE_OK (0) or a non-zero status, and describe the
 *   problem in the host-owned `normd_stage_error` (see normd_stage_error_set). A failed call must
 *   leave the instance as it was before the call (process: batch values may be left modified, the
 *   statistics not). A plugin must never abort the process for bad input.
 */
#ifndef NORMD_STAGE_H
#define NORMD_STAGE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI this header describes; the host refuses any other. */
#define NORMD_STAGE_ABI_VERSION 1u

/** The one symbol a plugin exports. */
#define NORMD_STAGE_ENTRY_SYMBOL "normd_stage_plugin_entry"

/** Return statuses. Any non-zero value is a failure; these name the usual ones. */
enum {
    NORMD_STAGE_OK = 0,
    /** `create`: the configuration is invalid (name the key in error->key). */
    NORMD_STAGE_ERR_CONFIG = 1,
    /** `process`: the batch cannot be processed (wrong width, out-of-domain value…). */
    NORMD_STAGE_ERR_DATA = 2,
    /** `load_state`: the saved statistics do not fit this instance. */
    NORMD_STAGE_ERR_STATE = 3,
    /** Anything else (out of memory…). */
    NORMD_STAGE_ERR_INTERNAL = 4
};

/**
 * Host-owned error buffers, zero-filled before every call. Write a NUL-terminated message (and,
 * for a configuration error, the offending top-level key of the stage's mapping, e.g. "quantile")
 * truncated to the sizes given. The host prints the message at that key's file:line:col:
 *   `normd.yaml:12:19: pipelines[0].stages[1].quantile: must be in (0, 1), got 1.5`
 * Leave `key` empty when no single key is at fault.
 */
typedef struct normd_stage_error {
    char *message;
    size_t message_size;
    char *key;
    size_t key_size;
} normd_stage_error;

/** Writes a printf-style message (and `key`, which may be NULL) into `error`, truncating safely. */
static inline void normd_stage_error_set(normd_stage_error *error, const char *key, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static inline void normd_stage_error_set(normd_stage_error *error, const char *key, const char *format, ...) {
    if (error == NULL) return;
    if (error->message != NULL && error->message_size > 0) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(error->message, error->message_size, format, arguments);
        va_end(arguments);
    }
    if (error->key != NULL && error->key_size > 0) {
        snprintf(error->key, error->key_size, "%s", key != NULL ? key : "");
    }
}

/**
 * Where `save_state` writes a stage's statistics: named per-feature Float64 vectors and named
 * integer counters — the same shape as a built-in stage's state, so the host stores them in state
 * files and checkpoints the same way. Names are copied by the host during the call; use the names
 * your framework uses (`running_mean`, `n_samples_seen`). Writing a name twice replaces it.
 */
typedef struct normd_state_writer {
    void *context;
    void (*put_vector)(void *context, const char *name, const double *values, size_t count);
    void (*put_counter)(void *context, const char *name, int64_t value);
} normd_state_writer;

/** Where `load_state` reads saved statistics from. Valid only during the call. */
typedef struct normd_state_reader {
    void *context;
    /** Number of values of vector `name`, or -1 when the state has no such vector. */
    int64_t (*vector_count)(void *context, const char *name);
    /** Copies up to `count` values of vector `name` into `out`; returns how many, or -1 when absent. */
    int64_t (*get_vector)(void *context, const char *name, double *out, size_t count);
    /** Stores counter `name` in `*out` and returns 0, or returns -1 when absent. */
    int (*get_counter)(void *context, const char *name, int64_t *out);
} normd_state_reader;

/**
 * Where `fingerprint` writes the parameters that give a stage's statistics their meaning
 * (e.g. "eps" → "1e-06"). A restored state whose fingerprint differs is refused, so a checkpoint
 * taken with other parameters is never silently reused. The host adds "kind" itself.
 */
typedef struct normd_fingerprint_writer {
    void *context;
    void (*put)(void *context, const char *key, const char *value);
} normd_fingerprint_writer;

/** One stage kind. All function pointers are required unless marked optional. */
typedef struct normd_stage_vtable {
    /** sizeof(normd_stage_vtable) as the plugin was compiled. */
    uint32_t struct_size;
    /** Version of the statistics layout save_state writes; load_state accepts it and every older one. */
    uint32_t state_version;
    /** The YAML `type:` (letters, digits, '_'; unique among built-in and loaded stages). */
    const char *kind;
    /** One line describing the stage (optional, may be NULL). */
    const char *summary;

    /**
     * Builds an instance from the stage's YAML mapping rendered as a JSON object, without the
     * host's own keys `type` and `columns` (e.g. {"quantile":0.99}). Reject unknown keys.
     * `features` is the width of every batch this instance will see; `batch_size` the pipeline's
     * batch.size (for information: batches may be smaller). Called at `normd validate` time too.
     * On success store the instance in *instance and return NORMD_STAGE_OK.
     */
    int (*create)(const char *config_json, size_t features, size_t batch_size,
                  void **instance, normd_stage_error *error);

    /**
     * Normalizes `rows` × `features` row-major Float32 values in place. `train` non-zero: use and
     * fold in this batch's statistics; zero: use the saved statistics only and change nothing.
     * The host has already checked that every value is finite and that `features` matches; a train
     * batch has at least batch.min_rows rows (and a multiple of row_multiple). rows may be 1 in infer.
     */
    int (*process)(void *instance, float *values, size_t rows, size_t features, int train,
                   normd_stage_error *error);

    /** Optional: a train batch's row count must be a multiple of this (NULL means 1). */
    size_t (*row_multiple)(const void *instance);

    /** Optional: writes the parameters the statistics depend on (NULL: the kind only). */
    void (*fingerprint)(const void *instance, const normd_fingerprint_writer *writer);

    /** Writes the instance's statistics. Must not change them. */
    void (*save_state)(const void *instance, const normd_state_writer *writer);

    /**
     * Replaces the statistics with saved ones of layout `version` (<= state_version; the host
     * refuses newer ones). Check every vector's length and values; on failure change nothing.
     */
    int (*load_state)(void *instance, const normd_state_reader *reader, uint32_t version,
                      normd_stage_error *error);

    /** Frees an instance. Called exactly once per successful create. */
    void (*destroy)(void *instance);
} normd_stage_vtable;

/** What the entry returns. */
typedef struct normd_stage_plugin {
    /** NORMD_STAGE_ABI_VERSION as the plugin was compiled. */
    uint32_t abi_version;
    /** sizeof(normd_stage_plugin) as the plugin was compiled. */
    uint32_t struct_size;
    /** A name for logs and messages, e.g. "robust_scale example" (optional, may be NULL). */
    const char *plugin_name;
    /** Number of entries in `stages`. */
    size_t stage_count;
    /** `stage_count` pointers to vtables (pointers, so each vtable keeps its own struct_size). */
    const normd_stage_vtable *const *stages;
} normd_stage_plugin;

/** The type of the entry function, for hosts that look it up with dlsym. */
typedef const normd_stage_plugin *(*normd_stage_plugin_entry_fn)(void);

#ifndef NORMD_STAGE_HOST
/** Implemented by the plugin (in C, or in Swift with @_cdecl("normd_stage_plugin_entry")). */
const normd_stage_plugin *normd_stage_plugin_entry(void);
#endif

#ifdef __cplusplus
}
#endif

#endif /* NORMD_STAGE_H */
