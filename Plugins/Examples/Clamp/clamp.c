/*
 * clamp — an example normd stage plugin in plain C that reads its configuration through the
 * host's config reader (HOST SERVICES in normd_stage.h) instead of parsing JSON.
 *
 *     y = min(max(x * factor, low), high)         mode: clamp (default)
 *     y = x * factor, or 0 outside [low, high]    mode: zero
 *
 * Stateless: nothing to learn, train and infer are the same.
 *
 * YAML:   - type: clamp
 *           low: -3         # a number; -.inf allowed (default -.inf: no lower bound)
 *           high: .inf      # a number; .inf allowed (default .inf), >= low; NaN refused
 *           factor: 1.0     # a finite number (default 1)
 *           mode: clamp     # clamp | zero (default clamp)
 *           enabled: true   # false: pass data through unchanged (default true)
 *
 * `.inf` is why it uses the reader: in the JSON `create` receives, `.inf` is null, like `~`.
 *
 * Build alone: cc -shared -fPIC -O2 -I Sources/CStageABI/include \
 *                 Plugins/Examples/Clamp/clamp.c -o libclamp.so -lm
 */
#include "normd_stage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Set by the host through normd_stage_plugin_host before any create; NULL on a host without services. */
static const normd_host_services *host;

void normd_stage_plugin_host(const normd_host_services *services) { host = services; }

typedef struct clamp {
    float low, high, factor;
    int zero_outside;
    int enabled;
} clamp;

/* ---- configuration through the host's reader ------------------------------------------------- */

/* A number for `key`, `fallback` when absent; refuses null and non-numbers (naming the key). */
static int read_number(const char *config, const char *key, double fallback, double *out, normd_stage_error *error) {
    int status = host->config_get_double(config, key, out);
    if (status == NORMD_CONFIG_ABSENT) { *out = fallback; return 1; }
    if (status == NORMD_CONFIG_OK) return 1;
    normd_stage_error_set(error, key, status == NORMD_CONFIG_NULL ? "expected a number, got null" : "expected a number");
    return 0;
}

static int read_flag(const char *config, const char *key, int fallback, int *out, normd_stage_error *error) {
    int status = host->config_get_bool(config, key, out);
    if (status == NORMD_CONFIG_ABSENT) { *out = fallback; return 1; }
    if (status == NORMD_CONFIG_OK) return 1;
    normd_stage_error_set(error, key, "expected true or false");
    return 0;
}

static const char *const known_keys[] = { "low", "high", "factor", "mode", "enabled" };

static int create(const char *config, size_t features, size_t batch_size, void **instance, normd_stage_error *error) {
    (void)features; (void)batch_size;
    if (!NORMD_HOST_HAS(host, config_get_string)) {
        normd_stage_error_set(error, NULL, "the clamp plugin needs the host's config reader "
                              "(normd_stage_plugin_host), which this normd did not offer");
        return NORMD_STAGE_ERR_CONFIG;
    }
    /* Unknown keys first: the reader lists every key as written. */
    for (size_t i = 0; i < host->config_key_count(config); i++) {
        const char *key = host->config_key(config, i);
        int known = 0;
        for (size_t k = 0; k < sizeof known_keys / sizeof known_keys[0]; k++) known |= strcmp(key, known_keys[k]) == 0;
        if (!known) {
            normd_stage_error_set(error, key, "unknown key '%s'; expected one of: low, high, factor, mode, enabled", key);
            return NORMD_STAGE_ERR_CONFIG;
        }
    }
    double low, high, factor;
    int enabled;
    if (!read_number(config, "low", -INFINITY, &low, error) || !read_number(config, "high", INFINITY, &high, error) ||
        !read_number(config, "factor", 1.0, &factor, error) || !read_flag(config, "enabled", 1, &enabled, error)) {
        return NORMD_STAGE_ERR_CONFIG;
    }
    if (isnan(low)) { normd_stage_error_set(error, "low", "must not be NaN"); return NORMD_STAGE_ERR_CONFIG; }
    if (isnan(high)) { normd_stage_error_set(error, "high", "must not be NaN"); return NORMD_STAGE_ERR_CONFIG; }
    if (high < low) { normd_stage_error_set(error, "high", "must be >= low (%g), got %g", low, high); return NORMD_STAGE_ERR_CONFIG; }
    if (!isfinite(factor)) { normd_stage_error_set(error, "factor", "must be a finite number, got %g", factor); return NORMD_STAGE_ERR_CONFIG; }
    const char *mode = "clamp";
    int status = host->config_get_string(config, "mode", &mode);
    if (status != NORMD_CONFIG_OK && status != NORMD_CONFIG_ABSENT) {
        normd_stage_error_set(error, "mode", "expected clamp or zero");
        return NORMD_STAGE_ERR_CONFIG;
    }
    if (strcmp(mode, "clamp") != 0 && strcmp(mode, "zero") != 0) {
        normd_stage_error_set(error, "mode", "must be clamp or zero, got '%s'", mode);
        return NORMD_STAGE_ERR_CONFIG;
    }
    clamp *stage = malloc(sizeof *stage);
    if (stage == NULL) { normd_stage_error_set(error, NULL, "out of memory"); return NORMD_STAGE_ERR_INTERNAL; }
    stage->low = (float)low;
    stage->high = (float)high;
    stage->factor = (float)factor;
    stage->zero_outside = strcmp(mode, "zero") == 0;
    stage->enabled = enabled;
    *instance = stage;
    return NORMD_STAGE_OK;
}

/* ---- the stage --------------------------------------------------------------------------------- */

static int process(void *instance, float *values, size_t rows, size_t features, int train, normd_stage_error *error) {
    (void)train; (void)error;
    const clamp *stage = instance;
    if (!stage->enabled) return NORMD_STAGE_OK;
    for (size_t i = 0; i < rows * features; i++) {
        float y = values[i] * stage->factor;
        if (stage->zero_outside) {
            values[i] = (y < stage->low || y > stage->high) ? 0.0f : y;
        } else {
            values[i] = y < stage->low ? stage->low : (y > stage->high ? stage->high : y);
        }
    }
    return NORMD_STAGE_OK;
}

static void save_state(const void *instance, const normd_state_writer *writer) { (void)instance; (void)writer; }

static int load_state(void *instance, const normd_state_reader *reader, uint32_t version, normd_stage_error *error) {
    (void)instance; (void)reader; (void)version; (void)error;
    return NORMD_STAGE_OK; /* nothing learnt, nothing to restore */
}

static void destroy(void *instance) { free(instance); }

static const normd_stage_vtable clamp_vtable = {
    .struct_size = sizeof(normd_stage_vtable),
    .state_version = 1,
    .kind = "clamp",
    .summary = "y = clamp(x * factor, low, high), or 0 outside (example C plugin using the host's config reader)",
    .create = create,
    .process = process,
    .save_state = save_state,
    .load_state = load_state,
    .destroy = destroy,
};

static const normd_stage_vtable *const stages[] = { &clamp_vtable };

static const normd_stage_plugin plugin = {
    .abi_version = NORMD_STAGE_ABI_VERSION,
    .struct_size = sizeof(normd_stage_plugin),
    .plugin_name = "clamp example",
    .stage_count = 1,
    .stages = stages,
};

const normd_stage_plugin *normd_stage_plugin_entry(void) { return &plugin; }
