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
 *   New optional services come as new optional symbols a plugin MAY export (see HOST SERVICES): a
 *   host that does not know a symbol never looks for it, a plugin that does not export it is never
 *   offered the service, so old plugins keep loading and new plugins keep loading on old hosts.
 *
 * CONFIGURATION (what `create` receives)
 *   The stage's YAML mapping without the host's keys `type` and `columns`, as one JSON object, keys
 *   in the order written. YAML is resolved first (YAML 1.1 core schema, as normd reads every key),
 *   then rendered as JSON:
 *     - null: `~`, `null`, an empty value                       -> null
 *     - booleans: true/false, yes/no, on/off (any capitalisation) -> true / false
 *     - integers: decimal, 0x1F, 0o17 and 017 (octal), 0b101, `_` separators (1_000), base 60
 *       (1:30 = 90)                                               -> a JSON integer
 *       an integer beyond 64 bits (signed)                       -> a JSON float: 1.2345678901234568e+29
 *                                                                  (precision lost)
 *     - floats: 1e3, 2.5, -0.0                                    -> the shortest round-trip form
 *                                                                  (1000.0, 2.5, -0.0)
 *     - NON-FINITE: .inf, -.inf, .nan (any capitalisation) and a float beyond Float64's range (1e400)
 *                                                                -> null, INDISTINGUISHABLE in the JSON
 *                                                                  from `~`: JSON has no non-finite numbers.
 *                                                                  Read them through the host's
 *                                                                  config reader (HOST SERVICES), which
 *                                                                  returns them as +-INFINITY / NAN.
 *     - dates (2020-01-01) are not resolved                      -> a string
 *     - strings: JSON-escaped (\" \\ \n \r \t, other control characters as \u00XX), UTF-8.
 *   Lists and nested mappings follow the same rules.
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
 * truncated to the sizes given. The host prints the message at the file:line:col of that key's
 * VALUE (where the fix goes; the key's own position for a key written without a value), followed
 * by the key's path:
 *   `normd.yaml:12:19: pipelines[0].stages[1].quantile: must be in (0, 1), got 1.5`
 *                  ^^ the column of `1.5`, not of `quantile`
 * Leave `key` empty when no single key is at fault: the message then points at the stage's mapping.
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

/*
 * HOST SERVICES (optional; added within ABI version 1)
 *
 * Functions the host offers a plugin, so a plugin in C needs no JSON parser. A plugin that wants
 * them exports
 *
 *     void normd_stage_plugin_host(const normd_host_services *host);
 *
 * The host looks the symbol up after the handshake (abi_version, struct sizes, stage tables) and,
 * when present, calls it once, before any `create`, on the loading thread. Keep the pointer: the
 * struct stays valid and unchanged while the process runs. A host older than this header never
 * calls it, so a plugin must check that it was called (the pointer is still NULL) and, if it needs
 * the services, refuse in `create` with a message saying so. `normd run` logs for each library
 * whether it took the services (`host_services=yes|no`).
 *
 * Growing: fields are only ever appended. `struct_size` is sizeof(normd_host_services) as the HOST
 * was compiled; before using a field check NORMD_HOST_HAS(host, field).
 *
 * The config reader: pass the `config_json` pointer `create` received, unchanged, as `config`. The
 * host recognises the buffer of a `create` call in progress and reads the same mapping the JSON
 * was rendered from, WITH non-finite numbers (+-INFINITY, NAN) that the JSON cannot carry. Valid
 * only until that `create` returns; any other pointer reads as an empty mapping
 * (NORMD_CONFIG_NOT_A_CONFIG), never as freed memory — but do not keep the pointer: its address
 * may later be the buffer of another `create` in progress, and then reads as that mapping.
 * Strings returned are host-owned and valid until `create` returns.
 * Values are typed as the YAML wrote them (rules under CONFIGURATION): get_double accepts an
 * integer or a float (an integer beyond 2^53 is rounded), get_bool only true/false (yes/no/on/off
 * included), get_string only a string (a quoted "12" is a string, 12 is not).
 */

/** What the config reader's getters return. */
enum {
    /** The key is there with a value of the asked type; *out holds it. */
    NORMD_CONFIG_OK = 0,
    /** The mapping has no such key; *out is unchanged. */
    NORMD_CONFIG_ABSENT = 1,
    /** The key is there with an explicit null (`key: ~`, `key: null`, `key:`); *out is unchanged. */
    NORMD_CONFIG_NULL = 2,
    /** The value is of another type (a string for get_double, a list, a mapping…); *out is unchanged. */
    NORMD_CONFIG_WRONG_TYPE = 3,
    /** `config` is not the `config_json` of a `create` call in progress. */
    NORMD_CONFIG_NOT_A_CONFIG = 4
};

typedef struct normd_host_services {
    /** sizeof(normd_host_services) as the host was compiled. */
    uint32_t struct_size;
    /** Reserved, 0. */
    uint32_t reserved;
    /** Number of top-level keys of the mapping (without `type` and `columns`); 0 for a foreign pointer. */
    size_t (*config_key_count)(const char *config);
    /** The `index`-th key in the order written, or NULL when out of range. */
    const char *(*config_key)(const char *config, size_t index);
    /** A number: integers and floats, non-finite ones included (`.inf` is INFINITY). */
    int (*config_get_double)(const char *config, const char *key, double *out);
    /** true/false (YAML 1.1: yes/no/on/off too) as 1/0. */
    int (*config_get_bool)(const char *config, const char *key, int *out);
    /** A string, NUL-terminated UTF-8 (host-owned, valid until `create` returns). */
    int (*config_get_string)(const char *config, const char *key, const char **out);
} normd_host_services;

/** Whether the host's struct has `field` (fields appended by later headers are absent on older hosts). */
#define NORMD_HOST_HAS(host, field) \
    ((host) != NULL && offsetof(normd_host_services, field) + sizeof((host)->field) <= (host)->struct_size)

/** The optional symbol through which the host offers its services. */
#define NORMD_STAGE_HOST_SYMBOL "normd_stage_plugin_host"

/** The type of that function, for hosts that look it up with dlsym. */
typedef void (*normd_stage_plugin_host_fn)(const normd_host_services *host);

#ifndef NORMD_STAGE_HOST
/** Implemented by the plugin (in C, or in Swift with @_cdecl("normd_stage_plugin_entry")). */
const normd_stage_plugin *normd_stage_plugin_entry(void);
/** Optionally implemented by the plugin, to receive the host services (see HOST SERVICES). */
void normd_stage_plugin_host(const normd_host_services *host);
#endif

#ifdef __cplusplus
}
#endif

#endif /* NORMD_STAGE_H */
