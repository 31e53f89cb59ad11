// The stage chain's CPU time per 256 × 128 train batch, fused (StageChain) against the same stages
// run one by one with the pre-fusion chain's two finiteness passes, and a 128 KiB memcpy; thread CPU
// time per call, so a loaded machine blurs it less than wall clock. Build and run with
// Benchmarks/cpu-micro.sh ChainCPU (links the release build's object files; no extra package build).
import BatchNorm
import BatchRenorm
import Glibc
import MinMax
import NormCore
import StageKit

// Thread CPU time per call (CLOCK_THREAD_CPUTIME_ID), min and median over many calls: the minimum is
// what the code costs when nothing else interferes, the statistic least moved by a loaded machine.
func cpuNow() -> Double { var t = timespec(); clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
let features = 128, rows = 256
var state: UInt64 = 42
let values = (0..<(rows * features)).map { _ -> Float in
    state = state &* 6364136223846793005 &+ 1442695040888963407
    return 20 + 10 * (Float(state >> 40) / Float(1 << 24) - 0.5)
}
func stages() -> [any Stage] {
    [MinMaxStage(featureCount: features),
     KerasBatchNormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features)),
     BatchRenormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features),
                      clipping: RenormClipping(rmax: 3, rmin: 0.3333, dmax: 5))]
}
/// The old chain's between-stage check (StageChain.allFinite before this branch): Σx·0 over SIMD16 lanes.
func allFinite(_ batch: FeatureBatch) -> Bool {
    batch.withUnsafeValues { values in
        let raw = UnsafeRawPointer(values.baseAddress!)
        let lanes = 16, chunks = values.count / lanes
        var accumulator = SIMD16<Float>(repeating: 0)
        for chunk in 0..<chunks { accumulator += raw.loadUnaligned(fromByteOffset: chunk * lanes * 4, as: SIMD16<Float>.self) * 0 }
        return !accumulator.sum().isNaN
    }
}
func measure(_ name: String, _ body: (inout FeatureBatch) throws -> Void) rethrows {
    var samples: [Double] = []
    for i in 0..<3000 {
        var batch = FeatureBatch(rows: rows, features: features, values: values)
        let start = cpuNow()
        try body(&batch)
        let end = cpuNow()
        if i >= 500 { samples.append((end - start) * 1e6) }  // after the running means settled
    }
    samples.sort()
    func f(_ x: Double) -> String { String(Double(Int(x * 10)) / 10) }
    print(name, "min", f(samples[0]), "p10", f(samples[samples.count / 10]), "median", f(samples[samples.count / 2]), "us")
}
let all = ColumnSelection.all(features)
for round in 0..<3 {
    let fusedStages = stages()
    let chain = StageChain(links: fusedStages.map { ChainLink(stage: $0, columns: all) }, featureCount: features)
    try measure("round \(round) fused chain (process, inputValidated)  ") { _ = try chain.process(&$0, mode: .train, inputValidated: true) }
    print("  fused passes", chain.fusedPasses, "of", 2 * 3000)
    let plain = stages()
    try measure("round \(round) unfused: 3 stages + 2 finiteness passes") { batch in
        for (index, stage) in plain.enumerated() {
            try stage.process(&batch, mode: .train)
            if index < 2 { precondition(allFinite(batch)) }
        }
    }
    let single = stages()
    for stage in single {
        // Each stage alone on the raw batch (its running statistics settle on it after a few hundred calls).
        try measure("round \(round) stage \(stage.kind) alone (unfused)      ") { try stage.process(&$0, mode: .train) }
    }
    let source = FeatureBatch(rows: rows, features: features, values: values)
    measure("round \(round) memcpy 128 KiB                          ") { batch in
        batch.withUnsafeMutableValues { d in source.withUnsafeValues { s in _ = d.update(fromContentsOf: s) } }
    }
}
