// Allocations per 256-row batch of 1-row 128-feature messages, once warm: decode + accept + batch, then
// chain (min_max, batch_norm, batch_renorm, train) + tensor encoding, against chain + encoding alone (the
// difference / messages = per message), and the tensor encoding alone (what the output side allocates
// per batch). The same measurement as Benchmarks/Micro's data-path rows, without that package's build:
// counted by the malloc interposer count.c. Run with `Benchmarks/cpu-micro.sh AllocCount`.
import BatchNorm
import BatchRenorm
import Glibc
import Logging
import MinMax
import NormCore
import Pipeline
import StageKit
import WireFormat

typealias Count = @convention(c) () -> Int
let count = unsafeBitCast(dlsym(dlopen(nil, RTLD_NOW), "normd_malloc_count")!, to: Count.self)
final class EncodingSink: BatchSink {
    var encoder = BatchEncoder(codec: .tensor)
    var bytes = 0
    func publish(_ batch: inout FeatureBatch, _ info: PublishedBatch) -> Bool {
        bytes &+= encoder.encode(batch, info) { frames in frames[0].count }
        return true
    }
}
let features = 128
func chain() -> StageChain {
    let all = ColumnSelection.all(features)
    return StageChain(links: [
        ChainLink(stage: MinMaxStage(featureCount: features), columns: all),
        ChainLink(stage: KerasBatchNormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features)), columns: all),
        ChainLink(stage: BatchRenormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features), clipping: RenormClipping(rmax: 3, rmin: 0.3333, dmax: 5)), columns: all),
    ], featureCount: features)
}
var payload = [UInt8](repeating: 0, count: features * 4)
payload.withUnsafeMutableBytes { raw in let f = raw.bindMemory(to: Float.self); for i in 0..<features { f[i] = Float(i % 7) } }
let headers = (0..<4096).map { Array(("{\"dtype\":\"<f4\",\"shape\":[1,128],\"seq\":" + String($0) + ",\"producer\":\"bench\"}").utf8) }
let sink = EncodingSink()
let engine = PipelineEngine(settings: .init(name: "b", mode: .train, batchSize: 256, maxLatency: .seconds(60), invalidRows: .rejectMessage),
                            chain: chain(), sink: sink, logger: Logger(label: "b"))
var decoder = MessageDecoder(codec: .tensor, features: features)
var next = 0
func feed(batches: Int, into engine: PipelineEngine = engine) {
    for _ in 0..<(256 * batches) {
        headers[next % headers.count].withUnsafeBytes { h in payload.withUnsafeBytes { p in
            withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 2) { frames in
                frames[0] = h; frames[1] = p
                let m = try! decoder.decode(UnsafeBufferPointer(frames))
                precondition(engine.accept(m, input: 0, arrival: .now) == nil)
            }
        } }
        next += 1
    }
}
feed(batches: 8)
let before = count()
feed(batches: 16)
let full = count() - before
// chain + encode alone
let alone = chain()
var batch = FeatureBatch(rows: 256, features: features, values: (0..<(256 * features)).map { Float($0 % 7) })
var encoder = BatchEncoder(codec: .tensor)
let origins = (0..<256).map { RowOrigin(input: 0, producer: "bench", seq: UInt64($0), rows: $0..<($0 + 1), messageRows: 0..<1) }
var info = PublishedBatch(pipeline: "b", sequence: 0, outcome: ChainOutcome(mode: .train), stageKinds: alone.stages.map(\.kind), statsVersion: 0, origins: origins)
var bytes = 0
for _ in 0..<8 { _ = try! alone.process(&batch, mode: .train); bytes &+= encoder.encode(batch, info) { $0[0].count } }
let before2 = count()
for _ in 0..<16 { _ = try! alone.process(&batch, mode: .train); info.sequence &+= 1; bytes &+= encoder.encode(batch, info) { $0[0].count } }
let chainOnly = count() - before2
// encode alone (the same batch and header, no chain): what the output side allocates per batch
let before3 = count()
for _ in 0..<16 { info.sequence &+= 1; bytes &+= encoder.encode(batch, info) { $0[0].count } }
let encodeOnly = count() - before3
// the whole path again with `chain_thread: true` (the chain on a second thread; the malloc count is process-wide)
let threadedSink = EncodingSink()
let threaded = PipelineEngine(settings: .init(name: "b", mode: .train, batchSize: 256, maxLatency: .seconds(60), invalidRows: .rejectMessage, chainThread: true),
                              chain: chain(), sink: threadedSink, logger: Logger(label: "b"))
feed(batches: 8, into: threaded)
threaded.finishInFlight()
let before4 = count()
feed(batches: 16, into: threaded)
threaded.finishInFlight()
let threadedFull = count() - before4
threaded.stopChainThread()
print("allocations per batch, warm: decode+accept+batch of 256 1-row msgs + chain + encode:", Double(full) / 16, "; chain + encode alone:", Double(chainOnly) / 16, "; encode alone:", Double(encodeOnly) / 16, "; per message:", Double(full - chainOnly) / (16 * 256), "(bytes \(sink.bytes + bytes))")
print("with chain_thread: true: decode+accept+batch + chain + encode per batch:", Double(threadedFull) / 16, "; per message beyond chain + encode alone:", Double(threadedFull - chainOnly) / (16 * 256), "(bytes \(threadedSink.bytes))")
