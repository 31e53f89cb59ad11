// The stage chain's CPU time per train batch (256 × 128 and 256 × 16), fused (StageChain) against the
// same stages run one by one with the pre-fusion chain's two finiteness passes, each stage alone, each
// kernel alone, and a memcpy of the batch; thread CPU time per call, so a loaded machine blurs it less
// than wall clock. Build and run with Benchmarks/cpu-micro.sh ChainCPU (links the release build's
// object files; no extra package build). `ChainCPU ROUNDS` (default 3). Only public API that main
// had before the chain7 branch is used, so the same program links against either build's objects.
//
// Each call works on a batch that was refilled with the input (and is uniquely referenced) before its
// clock started. Before chain7 every call began with a copy-on-write copy of the 128 KiB input (the
// batch shared the input array), inside the timed region: that added an allocation and a copy to every
// row, and made the "memcpy" row two copies. The row "memcpy as measured before chain7" repeats that
// for comparison with the older figures.
import BatchNorm
import BatchRenorm
import Glibc
import MinMax
import NormCore
import StageKit

// Thread CPU time per call (CLOCK_THREAD_CPUTIME_ID), min and median over many calls: the minimum is
// what the code costs when nothing else interferes, the statistic least moved by a loaded machine.
func cpuNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 3 : 3
let rows = 256

func inputValues(features: Int) -> [Float] {
    var state: UInt64 = 42
    return (0..<(rows * features)).map { _ -> Float in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return 20 + 10 * (Float(state >> 40) / Float(1 << 24) - 0.5)
    }
}
func stages(_ features: Int) -> [any Stage] {
    [
        MinMaxStage(featureCount: features),
        KerasBatchNormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features)),
        BatchRenormStage(
            featureCount: features, options: KerasBatchNormOptions(featureCount: features),
            clipping: RenormClipping(rmax: 3, rmin: 0.3333, dmax: 5)),
    ]
}
/// The old chain's between-stage check (StageChain.allFinite before the fused chain): Σx·0 over SIMD16 lanes.
func allFinite(_ batch: FeatureBatch) -> Bool {
    batch.withUnsafeValues { values in
        let raw = UnsafeRawPointer(values.baseAddress!)
        let lanes = 16, chunks = values.count / lanes
        var accumulator = SIMD16<Float>(repeating: 0)
        for chunk in 0..<chunks { accumulator += raw.loadUnaligned(fromByteOffset: chunk * lanes * 4, as: SIMD16<Float>.self) * 0 }
        return !accumulator.sum().isNaN
    }
}
func report(_ name: String, _ samples: [Double]) {
    let sorted = samples.sorted()
    func f(_ x: Double) -> String { String(Double(Int(x * 100)) / 100) }
    let padded = name.count < 58 ? name + String(repeating: " ", count: 58 - name.count) : name
    print(padded, "min", f(sorted[0]), "p10", f(sorted[sorted.count / 10]), "median", f(sorted[sorted.count / 2]), "us")
}
/// `body` on a uniquely referenced batch refilled with `values` before each call's clock starts.
func measure(_ name: String, _ values: [Float], features: Int, _ body: (inout FeatureBatch) throws -> Void) rethrows {
    var batch = FeatureBatch(rows: rows, features: features)
    var samples: [Double] = []
    for i in 0..<3000 {
        batch.withUnsafeMutableValues { target in values.withUnsafeBufferPointer { _ = target.update(fromContentsOf: $0) } }
        let start = cpuNow()
        try body(&batch)
        let end = cpuNow()
        if i >= 500 { samples.append((end - start) * 1e6) }  // after the running means settled
    }
    report(name, samples)
}

/// `normd_affine_chain_avx2` alone, three stages: y = (x − 15)·0.1, then (y − 0.5)·2, then
/// (z − 0)·1 + 0.5, so the values stay near 0..1; the coefficients as an `AffineChain` lays them out
/// (flat, and packed at rows of a multiple of 4 KiB). Looked up by name, so that the program also
/// links against builds without the kernel.
func measureAffineChainKernel(_ shape: String, _ values: [Float], features: Int) {
    guard let symbol = dlsym(nil, "normd_affine_chain_avx2") else {
        print("\(shape) kernel 3 affines in one pass (normd_affine_chain_avx2): not in this build")
        return
    }
    typealias Kernel = @convention(c) (
        UnsafeMutablePointer<Float>?, Int, Int, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?, Int,
        UnsafePointer<Float>?
    ) -> Void
    let kernel = unsafeBitCast(symbol, to: Kernel.self)
    var chain = AffineChain(features: features, stages: 3)
    for (j, map) in [(15.0, 0.1, 0.0), (0.5, 2.0, 0.0), (0.0, 1.0, 0.5)].enumerated() {
        var affine = CenteredAffine(featureCount: features)
        affine.setAll { _ in map }
        chain.set(stage: j, affine)
    }
    measure("\(shape) kernel 3 affines in one pass (normd_affine_chain_avx2)", values, features: features) { batch in
        batch.withUnsafeMutableValues {
            kernel($0.baseAddress, rows, features, chain.center, chain.scale, chain.offset, 3, chain.packed.isEmpty ? nil : chain.packed)
        }
    }
}

for round in 0..<rounds {
    for features in [128, 16] {
        let values = inputValues(features: features)
        let shape = "round \(round) \(rows)x\(features)"
        let all = ColumnSelection.all(features)
        let fusedStages = stages(features)
        let chain = StageChain(links: fusedStages.map { ChainLink(stage: $0, columns: all) }, featureCount: features)
        try measure("\(shape) fused chain (process, inputValidated)", values, features: features) {
            _ = try chain.process(&$0, mode: .train, inputValidated: true)
        }
        print("  fused passes", chain.fusedPasses, "of", 2 * 3000)
        // How many of those batches trained from summaries in two passes (branch chain9); main has no
        // such counter. Read by reflection: this program must also build against main's objects.
        if let count = Mirror(reflecting: chain).children.first(where: { $0.label == "summaryBatches" })?.value as? Int {
            print("  trained from summaries", count, "of", 3000)
        }

        // Infer batches with the running statistics the train calls above left (chain9: one pass for
        // the three stages; main: one per stage).
        try measure("\(shape) chain infer (process, inputValidated)", values, features: features) {
            _ = try chain.process(&$0, mode: .infer, inputValidated: true)
        }
        let plain = stages(features)
        try measure("\(shape) unfused: 3 stages + 2 finiteness passes", values, features: features) { batch in
            for (index, stage) in plain.enumerated() {
                try stage.process(&batch, mode: .train)
                if index < 2 { precondition(allFinite(batch)) }
            }
        }
        for stage in stages(features) {
            // Each stage alone on the raw batch (its running statistics settle on it after a few hundred calls).
            try measure("\(shape) stage \(stage.kind) alone (unfused)", values, features: features) { try stage.process(&$0, mode: .train) }
        }
        // The kernels alone: y = (x − 15)·0.1 + 0 maps the input (15..25) onto 0..1; shift 0.5.
        var affine = CenteredAffine(featureCount: features)
        for f in 0..<features { affine.set(f, center: 15, scale: 0.1, offset: 0) }
        let shift = [Float](repeating: 0.5, count: features)
        measure("\(shape) kernel affine + moments (fused)", values, features: features) {
            precondition(AffineMomentsKernel.apply(to: &$0, affine, momentsAbout: shift).moments != nil)
        }
        measure("\(shape) kernel affine + clamp + moments (fused)", values, features: features) {
            precondition(AffineMomentsKernel.apply(to: &$0, affine, clamp: (0.1, 0.9), momentsAbout: shift).outputFinite)
        }
        measure("\(shape) kernel affine (AffineTransform.apply)", values, features: features) { AffineTransform.apply(to: &$0, affine) }
        let hint = [Float](repeating: 20, count: features)
        measure("\(shape) kernel moments pass (ColumnMoments, hinted)", values, features: features) {
            precondition(ColumnMoments(of: $0, nearMean: hint).count == rows)
        }
        // The batch-norm stages' square roots, √(σ² + ε) per feature: Swift's loop (scalar: a libm call
        // for negative inputs keeps it from vectorising) and, where this build has it, the SSE2 kernel
        // normd_stddev (branch chain8), found at run time so that the program still links against main's
        // objects (cpu-micro.sh links with --export-dynamic). 1000 calls per sample: one is ~0.1 µs.
        let variances = (0..<features).map { 0.25 + Double($0) }
        var deviations = [Double](repeating: 0, count: features)
        measure("\(shape) stddev x1000, Swift loop (σ²+ε).squareRoot()", values, features: features) { _ in
            for _ in 0..<1000 {
                deviations.withUnsafeMutableBufferPointer { out in
                    for f in 0..<features { out[f] = (variances[f] + 1e-3).squareRoot() }
                }
            }
        }
        if let symbol = dlsym(nil, "normd_stddev") {
            typealias Kernel = @convention(c) (UnsafePointer<Double>?, Double, UnsafeMutablePointer<Double>?, Int) -> Void
            let kernel = unsafeBitCast(symbol, to: Kernel.self)
            measure("\(shape) stddev x1000, kernel normd_stddev (SSE2)", values, features: features) { _ in
                for _ in 0..<1000 { kernel(variances, 1e-3, &deviations, features) }
            }
        } else {
            print("\(shape) stddev x1000, kernel normd_stddev: not in this build")
        }
        precondition(deviations[0] > 0)
        // The chain9 kernels (ColumnSummaryKernel's and AffineChainKernel's AVX2 twins), found at run
        // time like normd_stddev: pass A (extremes + moments, read only) and pass B (three affines).
        if let symbol = dlsym(nil, "normd_summary_avx2") {
            typealias Kernel = @convention(c) (
                UnsafePointer<Float>?, Int, Int, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?,
                UnsafeMutablePointer<Double>?, UnsafeMutablePointer<Double>?
            ) -> Void
            let kernel = unsafeBitCast(symbol, to: Kernel.self)
            var low = [Float](repeating: 0, count: features), high = low, shift = low
            var sums = [Double](repeating: 0, count: features), squares = sums
            measure("\(shape) kernel summary: extremes + moments (normd_summary_avx2)", values, features: features) { batch in
                batch.withUnsafeValues { kernel($0.baseAddress, rows, features, &shift, &low, &high, &sums, &squares) }
            }
            precondition(sums[0].isFinite)
        } else {
            print("\(shape) kernel summary (normd_summary_avx2): not in this build")
        }
        measureAffineChainKernel(shape, values, features: features)
        let source = FeatureBatch(rows: rows, features: features, values: values)
        measure("\(shape) memcpy of the batch", values, features: features) { batch in
            batch.withUnsafeMutableValues { d in source.withUnsafeValues { s in _ = d.update(fromContentsOf: s) } }
        }
        var samples: [Double] = []
        for i in 0..<3000 {
            var batch = FeatureBatch(rows: rows, features: features, values: values)
            let start = cpuNow()
            batch.withUnsafeMutableValues { d in source.withUnsafeValues { s in _ = d.update(fromContentsOf: s) } }
            let end = cpuNow()
            if i >= 500 { samples.append((end - start) * 1e6) }
        }
        report("\(shape) memcpy as measured before chain7 (COW copy + memcpy)", samples)
    }
}

// Wide rows (BENCHMARKS.md, "Wide rows: the affine sweep"): at 1024 features a row is 4 KiB, and the
// affine sweep's 16-row blocks fell into one L1 set; 1000 features is the same work without that.
for round in 0..<rounds {
    for features in [1000, 1024] {
        let values = inputValues(features: features)
        let shape = "round \(round) \(rows)x\(features)"
        let all = ColumnSelection.all(features)
        let chain = StageChain(links: stages(features).map { ChainLink(stage: $0, columns: all) }, featureCount: features)
        try measure("\(shape) fused chain (process, inputValidated)", values, features: features) {
            _ = try chain.process(&$0, mode: .train, inputValidated: true)
        }
        measureAffineChainKernel(shape, values, features: features)
        let source = FeatureBatch(rows: rows, features: features, values: values)
        measure("\(shape) memcpy of the batch", values, features: features) { batch in
            batch.withUnsafeMutableValues { d in source.withUnsafeValues { s in _ = d.update(fromContentsOf: s) } }
        }
    }
}
