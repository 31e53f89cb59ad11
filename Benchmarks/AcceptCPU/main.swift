// Thread CPU time per 1-row, 128-feature tensor message of what normd's pipeline thread does besides
// libzmq: decode alone, then decode + PipelineEngine.accept + batching (an empty chain in infer mode
// and a sink that discards, so the chain and encoding are left out), with the arrival read from the
// clock per message or once per burst of 256 (what normd's drain loop does). Minimum over 30 passes
// of 4 096 messages. Run with `Benchmarks/cpu-micro.sh AcceptCPU`.
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
final class NullSink: BatchSink { var n = 0; func publish(_ batch: FeatureBatch, _ info: PublishedBatch) -> Bool { n += batch.rows; return true } }
let features = 128, messages = 4096
let payload = [UInt8](repeating: 0x3F, count: features * 4)
let headers = (0..<messages).map { Array(("{\"dtype\":\"<f4\",\"shape\":[1,128],\"seq\":" + String(1_000_000 + $0) + "}").utf8) }
func run(chainStages: Bool, accept: Bool, clockEvery burst: Int = 1) -> Double {
    let all = ColumnSelection.all(features)
    let links = chainStages ? [ChainLink(stage: MinMaxStage(featureCount: features), columns: all)] : []
    let engine = PipelineEngine(settings: .init(name: "b", mode: .infer, batchSize: 256, maxLatency: .seconds(60), invalidRows: .rejectMessage),
                                chain: StageChain(links: links, featureCount: features), sink: NullSink(), logger: Logger(label: "b"))
    var decoder = MessageDecoder(codec: .tensor, features: features)
    var best = Double.infinity
    for _ in 0..<30 {
        let start = cpuNow()
        var arrival = ContinuousClock.now
        for (index, header) in headers.enumerated() {
            if accept && index % burst == 0 { arrival = .now }
            header.withUnsafeBytes { h in payload.withUnsafeBytes { p in
                withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 2) { frames in
                    frames[0] = h; frames[1] = p
                    let m = try! decoder.decode(UnsafeBufferPointer(frames))
                    if accept { _ = engine.accept(m, input: 0, arrival: arrival) }
                }
            } }
        }
        best = min(best, (cpuNow() - start) / Double(messages) * 1e9)
    }
    return best
}
for r in 0..<3 {
    print("round \(r): decode only", Int(run(chainStages: false, accept: false)), "ns; decode+accept+batch (empty chain, infer, null sink)",
          Int(run(chainStages: false, accept: true)), "ns per 1-row message; the same, one clock reading per 256 messages",
          Int(run(chainStages: false, accept: true, clockEvery: 256)), "ns")
}
