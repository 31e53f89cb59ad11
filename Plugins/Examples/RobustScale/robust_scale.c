/*
 * robust_scale — an example normd stage plugin in plain C.
 *
 * Scales each feature by a running median and a running mean absolute deviation from it, so a
 * few huge outliers move the centre and scale far less than they would move a mean/std:
 *
 *     y = (x - median) / (mad + eps)
 *
 * Training updates both per row with a fixed-step stochastic approximation (the "frugal" streaming
 * median): median += step * sign(x - median) * mad_or_1, mad += step * (|x - median| - mad).
 * The first training batch seeds them with its column means and mean absolute deviations.
 * Infer mode uses the running values and changes nothing.
 *
 * YAML:   - type: robust_scale
 *           step: 0.05      # (0, 1], default 0.05
 *           eps: 1.0e-6     # > 0, default 1e-6
 *
 * Build alone: cc -shared -fPIC -O2 -I Sources/CStageABI/include \
 *                 Plugins/Examples/RobustScale/robust_scale.c -o librobust_scale.so -lm
 */
#include "normd_stage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct robust_scale {
    size_t features;
    double step;
    double eps;
    int64_t seen;   /* training rows folded in so far */
    double *median; /* features */
    double *mad;    /* features */
} robust_scale;

/* ---- configuration: a flat JSON object of numbers ------------------------------------------ */

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Reads a JSON string without escapes into out (truncated); returns the position after it. */
static const char *read_key(const char *p, char *out, size_t size) {
    size_t n = 0;
    if (*p != '"') return NULL;
    p++;
    while (*p != '"' && *p != '\0') {
        if (*p == '\\') return NULL;
        if (n + 1 < size) out[n++] = *p;
        p++;
    }
    out[n] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

/* Reads {"step": number, "eps": number}; null means the default; the first problem names its key. */
static int parse_config(const char *json, double *step, double *eps, normd_stage_error *error) {
    const char *p = skip_space(json);
    if (*p != '{') {
        normd_stage_error_set(error, NULL, "expected a mapping of parameters");
        return NORMD_STAGE_ERR_CONFIG;
    }
    p = skip_space(p + 1);
    if (*p == '}') return NORMD_STAGE_OK;
    for (;;) {
        char key[64];
        p = read_key(p, key, sizeof key);
        if (p == NULL) {
            normd_stage_error_set(error, NULL, "cannot read the configuration");
            return NORMD_STAGE_ERR_CONFIG;
        }
        p = skip_space(p);
        if (*p != ':') {
            normd_stage_error_set(error, NULL, "cannot read the configuration");
            return NORMD_STAGE_ERR_CONFIG;
        }
        p = skip_space(p + 1);
        double *target = NULL;
        if (strcmp(key, "step") == 0) target = step;
        else if (strcmp(key, "eps") == 0) target = eps;
        else {
            normd_stage_error_set(error, key, "unknown key '%s'; expected one of: step, eps", key);
            return NORMD_STAGE_ERR_CONFIG;
        }
        if (strncmp(p, "null", 4) == 0) {
            p += 4; /* null means the default */
        } else {
            char *end = NULL;
            double value = strtod(p, &end);
            if (end == p || (*end != ',' && *end != '}' && *end != ' ')) {
                normd_stage_error_set(error, key, "expected a number");
                return NORMD_STAGE_ERR_CONFIG;
            }
            *target = value;
            p = end;
        }
        p = skip_space(p);
        if (*p == ',') { p = skip_space(p + 1); continue; }
        if (*p == '}') return NORMD_STAGE_OK;
        normd_stage_error_set(error, NULL, "cannot read the configuration");
        return NORMD_STAGE_ERR_CONFIG;
    }
}

/* ---- the stage ------------------------------------------------------------------------------ */

static int rs_create(const char *config_json, size_t features, size_t batch_size, void **instance,
                     normd_stage_error *error) {
    (void)batch_size;
    double step = 0.05, eps = 1e-6;
    int status = parse_config(config_json, &step, &eps, error);
    if (status != NORMD_STAGE_OK) return status;
    if (!(step > 0 && step <= 1)) {
        normd_stage_error_set(error, "step", "must be in (0, 1], got %g", step);
        return NORMD_STAGE_ERR_CONFIG;
    }
    if (!(eps > 0)) {
        normd_stage_error_set(error, "eps", "must be > 0, got %g", eps);
        return NORMD_STAGE_ERR_CONFIG;
    }
    robust_scale *stage = calloc(1, sizeof *stage);
    double *median = calloc(features, sizeof(double));
    double *mad = malloc(features * sizeof(double));
    if (stage == NULL || median == NULL || mad == NULL) {
        free(stage); free(median); free(mad);
        normd_stage_error_set(error, NULL, "out of memory");
        return NORMD_STAGE_ERR_INTERNAL;
    }
    for (size_t j = 0; j < features; j++) mad[j] = 1.0;
    stage->features = features;
    stage->step = step;
    stage->eps = eps;
    stage->median = median;
    stage->mad = mad;
    *instance = stage;
    return NORMD_STAGE_OK;
}

static void seed(robust_scale *stage, const float *values, size_t rows) {
    size_t width = stage->features;
    for (size_t j = 0; j < width; j++) {
        double sum = 0;
        for (size_t i = 0; i < rows; i++) sum += values[i * width + j];
        double centre = sum / (double)rows, spread = 0;
        for (size_t i = 0; i < rows; i++) spread += fabs(values[i * width + j] - centre);
        stage->median[j] = centre;
        stage->mad[j] = spread / (double)rows;
    }
}

static int rs_process(void *instance, float *values, size_t rows, size_t features, int train,
                      normd_stage_error *error) {
    robust_scale *stage = instance;
    if (features != stage->features) {
        normd_stage_error_set(error, NULL, "batch has %zu features per row, expected %zu", features, stage->features);
        return NORMD_STAGE_ERR_DATA;
    }
    if (train && rows > 0) {
        if (stage->seen == 0) seed(stage, values, rows);
        for (size_t i = 0; i < rows; i++) {
            for (size_t j = 0; j < features; j++) {
                double x = values[i * features + j];
                double unit = stage->mad[j] > stage->eps ? stage->mad[j] : 1.0;
                stage->median[j] += stage->step * unit * (x > stage->median[j] ? 1.0 : x < stage->median[j] ? -1.0 : 0.0);
                stage->mad[j] += stage->step * (fabs(x - stage->median[j]) - stage->mad[j]);
            }
        }
        stage->seen += (int64_t)rows;
    }
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < features; j++) {
            float *v = &values[i * features + j];
            *v = (float)((*v - stage->median[j]) / (stage->mad[j] + stage->eps));
        }
    }
    return NORMD_STAGE_OK;
}

/* The shortest of %.15g/%.17g that reads back exactly, so "0.1" stays "0.1" in state files. */
static void format_double(char *text, size_t size, double value) {
    snprintf(text, size, "%.15g", value);
    if (strtod(text, NULL) != value) snprintf(text, size, "%.17g", value);
}

static void rs_fingerprint(const void *instance, const normd_fingerprint_writer *writer) {
    const robust_scale *stage = instance;
    char text[32];
    format_double(text, sizeof text, stage->step);
    writer->put(writer->context, "step", text);
    format_double(text, sizeof text, stage->eps);
    writer->put(writer->context, "eps", text);
}

static void rs_save_state(const void *instance, const normd_state_writer *writer) {
    const robust_scale *stage = instance;
    writer->put_vector(writer->context, "median", stage->median, stage->features);
    writer->put_vector(writer->context, "mad", stage->mad, stage->features);
    writer->put_counter(writer->context, "n_samples_seen", stage->seen);
}

static int read_vector(const normd_state_reader *reader, const char *name, double *out, size_t count,
                       normd_stage_error *error) {
    int64_t stored = reader->vector_count(reader->context, name);
    if (stored < 0) {
        normd_stage_error_set(error, NULL, "missing '%s'", name);
        return NORMD_STAGE_ERR_STATE;
    }
    if ((size_t)stored != count) {
        normd_stage_error_set(error, NULL, "'%s' has %lld values, the stage has %zu features", name, (long long)stored, count);
        return NORMD_STAGE_ERR_STATE;
    }
    reader->get_vector(reader->context, name, out, count);
    for (size_t j = 0; j < count; j++) {
        if (!isfinite(out[j])) {
            normd_stage_error_set(error, NULL, "'%s' holds a non-finite value", name);
            return NORMD_STAGE_ERR_STATE;
        }
    }
    return NORMD_STAGE_OK;
}

static int rs_load_state(void *instance, const normd_state_reader *reader, uint32_t version, normd_stage_error *error) {
    (void)version; /* only version 1 exists */
    robust_scale *stage = instance;
    size_t width = stage->features;
    double *median = malloc(width * sizeof(double) + 1), *mad = malloc(width * sizeof(double) + 1);
    int64_t seen = 0;
    int status = NORMD_STAGE_ERR_INTERNAL;
    if (median == NULL || mad == NULL) {
        normd_stage_error_set(error, NULL, "out of memory");
    } else if ((status = read_vector(reader, "median", median, width, error)) == NORMD_STAGE_OK
               && (status = read_vector(reader, "mad", mad, width, error)) == NORMD_STAGE_OK) {
        if (reader->get_counter(reader->context, "n_samples_seen", &seen) != 0 || seen < 0) {
            normd_stage_error_set(error, NULL, "missing counter 'n_samples_seen'");
            status = NORMD_STAGE_ERR_STATE;
        } else {
            /* Everything checked: only now replace the statistics. */
            memcpy(stage->median, median, width * sizeof(double));
            memcpy(stage->mad, mad, width * sizeof(double));
            stage->seen = seen;
        }
    }
    free(median);
    free(mad);
    return status;
}

static void rs_destroy(void *instance) {
    robust_scale *stage = instance;
    if (stage == NULL) return;
    free(stage->median);
    free(stage->mad);
    free(stage);
}

static const normd_stage_vtable robust_scale_vtable = {
    .struct_size = sizeof(normd_stage_vtable),
    .state_version = 1,
    .kind = "robust_scale",
    .summary = "(x - running median) / (running mean absolute deviation + eps); example C plugin",
    .create = rs_create,
    .process = rs_process,
    .row_multiple = NULL,
    .fingerprint = rs_fingerprint,
    .save_state = rs_save_state,
    .load_state = rs_load_state,
    .destroy = rs_destroy,
};

static const normd_stage_vtable *const stages[] = { &robust_scale_vtable };

static const normd_stage_plugin plugin = {
    .abi_version = NORMD_STAGE_ABI_VERSION,
    .struct_size = sizeof(normd_stage_plugin),
    .plugin_name = "robust_scale example (C)",
    .stage_count = sizeof stages / sizeof stages[0],
    .stages = stages,
};

__attribute__((visibility("default")))
const normd_stage_plugin *normd_stage_plugin_entry(void) {
    return &plugin;
}
