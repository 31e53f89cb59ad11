// Thread CPU time per tensor message of what normd's pipeline thread does besides libzmq: decode
// alone, then decode + PipelineEngine.accept + batching (an empty chain in infer mode and a sink that
// discards, so the chain and encoding are left out), with the arrival read from the clock per message
// or once per burst of 256 (what normd's drain loop does). Messages of 1 row × 128 features, 1 row × 16
// features and 64 rows × 16 features (issue 15's workloads). Minimum over 30 passes of 4 096 messages.
// Run with `Benchmarks/cpu-micro.sh AcceptCPU`.
import BatchNorm
import BatchRenorm
import Glibc
import Logging
import MinMax
import NormCore
import Pipeline
import StageKit
import WireFormat

func cpuNow() -> Double { var t = timespec(); clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
final class NullSink: BatchSink { var n = 0; func publish(_ batch: inout FeatureBatch, _ info: PublishedBatch) -> Bool { n += batch.rows; return true } }
let messages = 4096

struct Workload {
    let features: Int, rows: Int
    let payload: [UInt8]
    let headers: [[UInt8]]
    init(features: Int, rows: Int) {
        self.features = features
        self.rows = rows
        // Finite, varied values (0.5 … 7.5), as a producer sends.
        var payload = [UInt8](repeating: 0, count: rows * features * 4)
        payload.withUnsafeMutableBytes { raw in
            let values = raw.bindMemory(to: Float.self)
            for index in values.indices { values[index] = Float(index % 8) + 0.5 }
        }
        self.payload = payload
        headers = (0..<messages).map { Array(("{\"dtype\":\"<f4\",\"shape\":[\(rows),\(features)],\"seq\":" + String(1_000_000 + $0) + "}").utf8) }
    }
}

func run(_ workload: Workload, accept: Bool, clockEvery burst: Int = 1) -> Double {
    let features = workload.features
    let engine = PipelineEngine(settings: .init(name: "b", mode: .infer, batchSize: 256, maxLatency: .seconds(60), invalidRows: .rejectMessage),
                                chain: StageChain(links: [], featureCount: features), sink: NullSink(), logger: Logger(label: "b"))
    var decoder = MessageDecoder(codec: .tensor, features: features)
    var best = Double.infinity
    for _ in 0..<30 {
        let start = cpuNow()
        var arrival = ContinuousClock.now
        for (index, header) in workload.headers.enumerated() {
            if accept && index % burst == 0 { arrival = .now }
            header.withUnsafeBytes { h in workload.payload.withUnsafeBytes { p in
                withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 2) { frames in
                    frames[0] = h; frames[1] = p
                    let m = try! decoder.decode(UnsafeBufferPointer(frames))
                    if accept { precondition(engine.accept(m, input: 0, arrival: arrival) == nil) }
                }
            } }
        }
        best = min(best, (cpuNow() - start) / Double(messages) * 1e9)
    }
    return best
}
let workloads = [Workload(features: 128, rows: 1), Workload(features: 16, rows: 1), Workload(features: 16, rows: 64)]
for r in 0..<3 {
    for workload in workloads {
        print("round \(r) \(workload.features)f x \(workload.rows)r: decode only", Int(run(workload, accept: false)),
              "ns; decode+accept+batch (empty chain, infer, null sink)", Int(run(workload, accept: true)),
              "ns per message; the same, one clock reading per 256 messages", Int(run(workload, accept: true, clockEvery: 256)), "ns")
    }
}
