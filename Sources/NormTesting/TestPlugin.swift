public import Foundation

/// Compiles a tiny plugin from C source at test time (`cc -shared -fPIC`), so every way a library
/// can be wrong — no entry, another ABI version, short structs, a NULL function, a taken kind —
/// is a real `.so` the loader has to refuse.
public enum TestPlugin {
    public struct CompileError: Error, CustomStringConvertible { public var description: String }

    /// A complete, valid plugin body with one stage of kind `kind`; the `tweak` lines run inside the
    /// entry before it returns, to break one field (e.g. `plugin.abi_version = 99;`).
    /// `process` is the body of the stage's `process` function (`values`, `rows`, `features`, `train`
    /// in scope; `math.h` included), by default a no-op; `create` the body of `create` (`json`,
    /// `features`, `batch_size`, `instance`, `error` in scope; the instance must be `malloc`ed), and
    /// `prelude` C text before both (types, globals, `normd_stage_plugin_host`). `onCreate` runs first
    /// in the default `create` body (`stdio.h` included), e.g. to count calls.
    public static func source(
        kind: String = "probe", tweak: String = "", prelude: String = "", onCreate: String = "",
        create: String? = nil,
        process: String = "(void)values; (void)rows; (void)features; (void)train;"
    ) -> String {
        let create =
            create ?? """
                (void)json; (void)features; (void)batch_size; (void)error;
                \(onCreate)
                *instance = malloc(1);
                return NORMD_STAGE_OK;
                """
        return """
            #include "normd_stage.h"
            #include <math.h>
            #include <stdio.h>
            #include <stdlib.h>
            \(prelude)
            static int create(const char *json, size_t features, size_t batch_size, void **instance, normd_stage_error *error) {
                \(create)
            }
            static int process(void *instance, float *values, size_t rows, size_t features, int train, normd_stage_error *error) {
                (void)instance; (void)error;
                \(process)
                return NORMD_STAGE_OK;
            }
            static void save_state(const void *instance, const normd_state_writer *writer) { (void)instance; (void)writer; }
            static int load_state(void *instance, const normd_state_reader *reader, uint32_t version, normd_stage_error *error) {
                (void)instance; (void)reader; (void)version; (void)error;
                return NORMD_STAGE_OK;
            }
            static void destroy(void *instance) { free(instance); }
            static normd_stage_vtable vtable = {
                .struct_size = sizeof(normd_stage_vtable), .state_version = 1, .kind = "\(kind)", .summary = NULL,
                .create = create, .process = process, .save_state = save_state, .load_state = load_state, .destroy = destroy,
            };
            static const normd_stage_vtable *stages[] = { &vtable };
            static normd_stage_plugin plugin = {
                .abi_version = NORMD_STAGE_ABI_VERSION, .struct_size = sizeof(normd_stage_plugin),
                .plugin_name = "test", .stage_count = 1, .stages = stages,
            };
            const normd_stage_plugin *normd_stage_plugin_entry(void) {
                \(tweak)
                return &plugin;
            }
            """
    }

    /// Writes `source` to `name.c` in `directory` and builds `name.so` there; returns the library's path.
    @discardableResult
    public static func build(_ source: String, named name: String, in directory: ScratchDirectory) throws -> String {
        let sourcePath = try directory.write(source, to: name + ".c")
        let library = directory.path(name + ".so")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-I", BuildProducts.abiHeaders, sourcePath, "-o", library]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CompileError(description: "cc failed: " + String(decoding: message, as: UTF8.self))
        }
        return library
    }
}
