import Foundation
import NormCore
import NormTesting
import NpyFormat
import Testing

/// `normd_stage.h` promises error buffers "zero-filled before every call". The host cleared byte 0
/// only, so a plugin that wrote a message on one call found its tail on the next.
@Suite struct ErrorBufferTests {
    /// A plugin whose `process` refuses any non-zero byte in either buffer, then fills both buffers
    /// (all but the last byte) and succeeds: the next call sees its bytes unless the host clears them.
    static let checksBuffers = """
        (void)values; (void)rows; (void)features; (void)train;
        for (size_t i = 0; i < error->message_size; i++) if (error->message[i] != 0) return NORMD_STAGE_ERR_INTERNAL;
        for (size_t i = 0; i < error->key_size; i++) if (error->key[i] != 0) return NORMD_STAGE_ERR_INTERNAL;
        for (size_t i = 0; i + 1 < error->message_size; i++) error->message[i] = 'x';
        for (size_t i = 0; i + 1 < error->key_size; i++) error->key[i] = 'k';
        """

    @Test func everyCallSeesZeroFilledErrorBuffers() throws {
        let scratch = try ScratchDirectory()
        let library = try TestPlugin.build(
            TestPlugin.source(kind: "buffer_probe", process: Self.checksBuffers),
            named: "buffer_probe", in: scratch)
        try scratch.write(
            """
            plugins: [\(library)]
            pipelines:
              - name: p
                features: 2
                batch: {size: 2}
                stages: [{type: buffer_probe}]

            """, to: "cfg.yaml")
        var data = SampleData(features: 2)
        try Data(Npy.encode(data.batch(rows: 6))).write(to: URL(fileURLWithPath: scratch.path("in.npy")))
        let result = try Normd.run(
            [
                "apply", "--config", "cfg.yaml", "--mode", "train", "--input", "in.npy",
                "--output", "out.npy",
            ], in: scratch)
        #expect(result.stderrLines == ["normd apply: pipeline 'p' (train): 6 rows in 3 batches, 0 downgraded to infer"])
        #expect(result.status == 0)
    }
}
