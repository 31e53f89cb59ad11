import BatchNorm
import BatchRenorm
import NormCore
import NormTesting
import StageKit
import Testing

/// The batch-norm stages' numbers, bit for bit: every output value and every statistic of a fixed
/// sequence of train and infer batches, folded into one FNV-1a digest per configuration.
///
/// Why digests and not the reference cases: those check parity with tf_keras / PyTorch within a
/// tolerance, so a change of rounding passes them. These pin the exact bits the stages computed when
/// their shared arithmetic became one `BatchNormKernel` (the digests were taken from the code
/// before that change and still hold after it). A change meant to round differently (e.g. a faster
/// kernel) updates them, and its commit says why the new bits are as good.
@Suite struct KernelBitsTests {
    static let features = 4

    /// 12 train batches with a drifting mean (so the running-mean hint holds for some and is stale
    /// for others: batch 6 jumps by 5000, forcing the two-pass moments), then 3 infer batches.
    static func run(_ stage: some Stage, rows: Int) throws -> UInt64 {
        var digest = FNV1a()
        var data = SampleData.mixedScale(seed: 2024)
        for index in 0..<15 {
            let shift = Double(index) * 40 + (index >= 6 ? 5000 : 0)
            var batch = data.mixedScaleBatch(rows: rows, shift: shift)
            try stage.process(&batch, mode: index < 12 ? .train : .infer)
            batch.withUnsafeValues { for value in $0 { digest.add(UInt64(value.bitPattern)) } }
            let state = stage.saveState()
            for name in state.statistics.keys.sorted() {
                for value in state.statistics[name] ?? [] { digest.add(value.bitPattern) }
            }
            for name in state.counters.keys.sorted() { digest.add(UInt64(bitPattern: state.counters[name] ?? 0)) }
        }
        return digest.value
    }

    static let gamma: [Double] = [1.5, 0.5, 1, 2], beta: [Double] = [0.25, -1, 0, 3]

    static func keras(virtualBatchSize: Int? = nil) -> KerasBatchNormOptions {
        KerasBatchNormOptions(
            featureCount: features, momentum: 0.9, epsilon: 1e-3, gamma: gamma, beta: beta,
            virtualBatchSize: virtualBatchSize)
    }

    @Test("batch_norm, keras convention, with and without ghost batches")
    func keras() throws {
        for (virtualBatchSize, expected) in [(nil, 0xcf76_55d6_b01a_04b3 as UInt64), (4, 0x909c_f823_a83b_c305)] {
            let digest = try Self.run(
                KerasBatchNormStage(featureCount: Self.features, options: Self.keras(virtualBatchSize: virtualBatchSize)), rows: 16)
            #expect(digest == expected, "virtual_batch_size \(String(describing: virtualBatchSize)): digest \(hex(digest))")
        }
    }

    @Test("batch_norm, torch convention: momentum, cumulative average, no running statistics")
    func torch() throws {
        for (momentum, tracks, expected) in [
            (0.1, true, 0xda02_31e4_6513_0337 as UInt64), (nil, true, 0x57e4_1563_5286_15fc),
            (0.1, false, 0x7778_da93_1e44_c65d),
        ] {
            let options = TorchBatchNormOptions(
                featureCount: Self.features, momentum: momentum, eps: 1e-5,
                tracksRunningStats: tracks, gamma: Self.gamma, beta: Self.beta)
            let digest = try Self.run(TorchBatchNormStage(featureCount: Self.features, options: options), rows: 16)
            #expect(digest == expected, "momentum \(String(describing: momentum)), track_running_stats \(tracks): digest \(hex(digest))")
        }
    }

    @Test("batch_renorm: binding clipping during and after a warm-up, with and without ghost batches")
    func renorm() throws {
        let clipping = RenormClipping(rmax: 1.5, rmin: 0.5, dmax: 0.5)
        for (virtualBatchSize, expected) in [(nil, 0xc90b_88dc_9056_4b0a as UInt64), (4, 0x4b9a_9f7d_ca34_cefb)] {
            let stage = BatchRenormStage(
                featureCount: Self.features, options: Self.keras(virtualBatchSize: virtualBatchSize),
                renormMomentum: 0.8, clipping: clipping, warmup: RenormWarmup(start: 2, end: 8))
            let digest = try Self.run(stage, rows: 16)
            #expect(digest == expected, "virtual_batch_size \(String(describing: virtualBatchSize)): digest \(hex(digest))")
        }
    }
}

/// `0x1234_5678_9abc_def0`, as the digests are written above.
func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    let padded = String(repeating: "0", count: 16 - digits.count) + digits
    return "0x"
        + stride(from: 0, to: 16, by: 4).map { start in
            String(padded[padded.index(padded.startIndex, offsetBy: start)..<padded.index(padded.startIndex, offsetBy: start + 4)])
        }.joined(separator: "_")
}

/// 64-bit FNV-1a over the little-endian bytes of each added word.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ word: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) {
            value ^= (word >> UInt64(shift)) & 0xff
            value = value &* 0x0000_0100_0000_01b3
        }
    }
}
