// Thread CPU time of encoding one output batch as the tensor codec sends it — the JSON header with its
// `sources` list of one entry per 1-row message (256 entries for a 256-row batch, the 1-row case) and
// the payload frame (the batch's own storage, not copied) — per batch and per row. Minimum over 30
// passes of 1 000 batches. Run with `Benchmarks/cpu-micro.sh HeaderCPU`.
import Glibc
import NormCore
import Pipeline
import StageKit
import WireFormat

func cpuNow() -> Double { var t = timespec(); clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
let rows = 256, features = 16, batches = 1000
let batch = FeatureBatch(rows: rows, features: features)
/// One origin per row, as `PipelineEngine` records 1-row messages from one named producer.
func info(_ sequence: UInt64, producer: String?) -> PublishedBatch {
    let first = 1_000_000 + UInt64(rows) * sequence
    let origins = (0..<rows).map { RowOrigin(input: 0, producer: producer, seq: first + UInt64($0), rows: $0..<($0 + 1), messageRows: 0..<1) }
    return PublishedBatch(
        pipeline: "bench", sequence: sequence, outcome: ChainOutcome(mode: .train), stageKinds: ["min_max", "batch_norm"], statsVersion: sequence,
        origins: origins)
}
func run(producer: String?) -> (perBatch: Double, bytes: Int) {
    let infos = (0..<8).map { info(UInt64($0), producer: producer) }
    var encoder = BatchEncoder(codec: .tensor)
    var bytes = 0
    var best = Double.infinity
    for _ in 0..<30 {
        let start = cpuNow()
        for index in 0..<batches {
            bytes &+= encoder.encode(batch, infos[index % infos.count]) { frames in frames[0].count }
        }
        best = min(best, (cpuNow() - start) / Double(batches) * 1e9)
    }
    return (best, bytes / (30 * batches))
}
for r in 0..<3 {
    let named = run(producer: "producer-0"), anonymous = run(producer: nil)
    print(
        "round \(r): tensor header of a 256-row batch of 1-row messages:", Int(named.perBatch), "ns per batch,",
        Int(named.perBatch / Double(rows)), "ns per row (\(named.bytes) header bytes); without producer names",
        Int(anonymous.perBatch), "ns per batch")
}
