// The stage chain's per-batch work at a chosen width, shaped for `valgrind --tool=callgrind`: warm the
// chain up, then run `BATCHES` batches through `measuredBatch` (never inlined), so that callgrind with
// `--collect-atstart=no --toggle-collect='*measuredBatch*'` counts only those batches' instructions —
// a figure a loaded machine cannot blur (BENCHMARKS.md, "Issue 15, chain per-batch overhead"). It also
// prints a hash of the last output's bits and of every statistic's bits, so two builds can be checked
// to compute the same numbers. Build and run with Benchmarks/cpu-micro.sh ChainCallgrind (links the
// release build's objects, like ChainCPU); `ChainCallgrind [FEATURES [train|infer [BATCHES]]]`
// (default 16 train 1000). Under callgrind:
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measuredBatch*' \
//       .build/bench/ChainCallgrind 16 train 1000
import BatchNorm
import BatchRenorm
import MinMax
import NormCore
import StageKit

let arguments = CommandLine.arguments
let features = arguments.count > 1 ? Int(arguments[1]) ?? 16 : 16
let mode: Mode = arguments.count > 2 && arguments[2] == "infer" ? .infer : .train
let batches = arguments.count > 3 ? Int(arguments[3]) ?? 1000 : 1000
let rows = 256

/// Eight different inputs (around 20 ± 5, a different seed each), cycled: the statistics keep moving.
let inputs: [[Float]] = (0..<8).map { seed in
    var state = UInt64(42 + seed)
    return (0..<(rows * features)).map { _ -> Float in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return 20 + 10 * (Float(state >> 40) / Float(1 << 24) - 0.5)
    }
}
let all = ColumnSelection.all(features)
let stages: [any Stage] = [
    MinMaxStage(featureCount: features),
    KerasBatchNormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features)),
    BatchRenormStage(
        featureCount: features, options: KerasBatchNormOptions(featureCount: features),
        clipping: RenormClipping(rmax: 3, rmin: 0.3333, dmax: 5)),
]
let chain = StageChain(links: stages.map { ChainLink(stage: $0, columns: all) }, featureCount: features)

@inline(never)
func measuredBatch(_ chain: StageChain, _ batch: inout FeatureBatch, _ mode: Mode) {
    do { _ = try chain.process(&batch, mode: mode, inputValidated: true) } catch { fatalError("\(error)") }
}

var batch = FeatureBatch(rows: rows, features: features)
func refill(_ index: Int) {
    batch.withUnsafeMutableValues { target in inputs[index % inputs.count].withUnsafeBufferPointer { _ = target.update(fromContentsOf: $0) } }
}
// Warm up in train mode (an infer run then uses trained statistics), not measured.
for i in 0..<500 {
    refill(i)
    do { _ = try chain.process(&batch, mode: .train, inputValidated: true) } catch { fatalError("\(error)") }
}
for i in 0..<batches {
    refill(i)
    measuredBatch(chain, &batch, mode)
}

/// FNV-1a over bit patterns.
func hash<T: FixedWidthInteger>(_ words: [T], into h: inout UInt64) {
    for word in words {
        for byte in 0..<(T.bitWidth / 8) {
            h = (h ^ UInt64(truncatingIfNeeded: word >> (byte * 8)) & 0xFF) &* 0x100_0000_01b3
        }
    }
}
var outputHash: UInt64 = 0xcbf2_9ce4_8422_2325
batch.withUnsafeValues { hash($0.map(\.bitPattern), into: &outputHash) }
var statisticsHash: UInt64 = 0xcbf2_9ce4_8422_2325
for state in chain.saveState() {
    for name in state.statistics.keys.sorted() { hash(state.statistics[name]!.map(\.bitPattern), into: &statisticsHash) }
    for name in state.counters.keys.sorted() { hash([state.counters[name]!], into: &statisticsHash) }
}
print("\(rows)x\(features) \(mode) \(batches) batches: output bits \(String(outputHash, radix: 16)), statistics bits \(String(statisticsHash, radix: 16))")
