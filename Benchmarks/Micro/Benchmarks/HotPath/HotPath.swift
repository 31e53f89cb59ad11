// normd's hot path without sockets, measured with ordo-one/benchmark (wall clock, throughput, and
// malloc counts from its malloc interposer):
// - the stage math alone on one 256 x F batch (min_max, batch_norm, batch_renorm, the chain of all
//   three, train mode) next to a memcpy of the same bytes;
// - allocations on the data path: decode + accept + batch of the messages that fill one batch, plus
//   chain + encode of that batch, against chain + encode alone (the difference / messages = per
//   message). The sink encodes exactly as the daemon's ZMQBatchSink does, minus the socket.
import BatchNorm
import BatchRenorm
import Benchmark
import Foundation
import Logging
import MinMax
import NormCore
import Pipeline
import StageKit
import WireFormat

// DecodedMessage conforms to IncomingRows in WireFormat itself, as the daemon uses it.

let batchRows = 256

func sampleValues(count: Int, seed: UInt64 = 42) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return 20 + 10 * (Float(state >> 40) / Float(1 << 24) - 0.5)
    }
}

func makeChain(features: Int) -> StageChain {
    let all = ColumnSelection.all(features)
    return StageChain(
        links: [
            ChainLink(stage: MinMaxStage(featureCount: features), columns: all),
            ChainLink(stage: KerasBatchNormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features)), columns: all),
            ChainLink(
                stage: BatchRenormStage(
                    featureCount: features, options: KerasBatchNormOptions(featureCount: features),
                    clipping: RenormClipping(rmax: 3, rmin: 0.3333, dmax: 5)), columns: all),
        ], featureCount: features)
}

/// What the daemon's ZMQBatchSink does per batch, minus the socket.
final class EncodingSink: BatchSink {
    var encoder = BatchEncoder(codec: .tensor)
    var bytes = 0
    func publish(_ batch: inout FeatureBatch, _ info: PublishedBatch) -> Bool {
        bytes &+= encoder.encode(batch, info) { frames in frames.reduce(0) { $0 + $1.count } }
        return true
    }
}

/// Pre-built wire messages (`[header][payload]`) of `rows` rows, with increasing seq.
struct WireMessages {
    let headers: [[UInt8]]
    let payload: [UInt8]
    init(features: Int, rows: Int, count: Int) {
        headers = (0..<count).map { Array("{\"dtype\":\"<f4\",\"shape\":[\(rows),\(features)],\"seq\":\($0),\"producer\":\"bench\"}".utf8) }
        payload = sampleValues(count: rows * features).withUnsafeBytes { Array($0) }
    }
}

func stageBenchmark(_ name: String, features: Int, _ process: @escaping (inout FeatureBatch) throws -> Void) {
    let bytes = batchRows * features * 4
    Benchmark(
        "\(name) 256x\(features) (\(bytes / 1024) KiB)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one)
    ) { benchmark in
        var batch = FeatureBatch(rows: batchRows, features: features, values: sampleValues(count: batchRows * features))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try process(&batch)
        }
        benchmark.stopMeasurement()
        blackHole(batch)
    }
}

func dataPathBenchmark(features: Int, rowsPerMessage: Int) {
    let messagesPerBatch = batchRows / rowsPerMessage
    Benchmark(
        "decode+accept+batch \(messagesPerBatch)x\(rowsPerMessage)-row msgs, then chain+encode (\(features) f)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one)
    ) { benchmark in
        let wire = WireMessages(features: features, rows: rowsPerMessage, count: 4096)
        var decoder = MessageDecoder(codec: .tensor, features: features)
        let sink = EncodingSink()
        let engine = PipelineEngine(
            settings: .init(name: "bench", mode: .train, batchSize: batchRows, maxLatency: .milliseconds(50), invalidRows: .rejectMessage),
            chain: makeChain(features: features), sink: sink, logger: Logger(label: "bench"))
        var next = 0
        func feedOneBatch() {
            for _ in 0..<messagesPerBatch {
                wire.headers[next % wire.headers.count].withUnsafeBytes { header in
                    wire.payload.withUnsafeBytes { payload in
                        withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 2) { frames in
                            frames[0] = header
                            frames[1] = payload
                            let message = try! decoder.decode(UnsafeBufferPointer(frames))
                            precondition(engine.accept(message, input: 0, arrival: .now) == nil)
                        }
                    }
                }
                next += 1
            }
        }
        for _ in 0..<8 { feedOneBatch() } // warm: buffers at full size, producer cached, seq tracked
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { feedOneBatch() }
        benchmark.stopMeasurement()
        blackHole(sink.bytes)
    }
}

func chainEncodeBenchmark(features: Int) {
    Benchmark(
        "chain+encode only, one batch (\(features) f)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one)
    ) { benchmark in
        let chain = makeChain(features: features)
        var batch = FeatureBatch(rows: batchRows, features: features, values: sampleValues(count: batchRows * features))
        var encoder = BatchEncoder(codec: .tensor)
        let origins = (0..<batchRows).map { RowOrigin(input: 0, producer: "bench", seq: UInt64($0), rows: $0..<($0 + 1), messageRows: 0..<1) }
        var info = PublishedBatch(
            pipeline: "bench", sequence: 0, outcome: ChainOutcome(mode: .train), stageKinds: chain.stages.map(\.kind),
            statsVersion: 0, origins: origins)
        var bytes = 0
        for _ in 0..<4 { _ = try chain.process(&batch, mode: .train) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            _ = try chain.process(&batch, mode: .train)
            info.sequence &+= 1
            bytes &+= encoder.encode(batch, info) { frames in frames.reduce(0) { $0 + $1.count } }
        }
        benchmark.stopMeasurement()
        blackHole(bytes)
    }
}

@MainActor let benchmarks = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(1)
    Benchmark.defaultConfiguration.maxIterations = 100_000
    for features in [128] {
        let bytes = batchRows * features * 4
        Benchmark(
            "memcpy 256x\(features) (\(bytes / 1024) KiB)",
            configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one)
        ) { benchmark in
            let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            let target = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            source.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                target.copyMemory(from: source, byteCount: bytes)
                blackHole(target)
            }
            benchmark.stopMeasurement()
            source.deallocate()
            target.deallocate()
        }
        let minMax = MinMaxStage(featureCount: features)
        stageBenchmark("stage min_max", features: features) { try minMax.process(&$0, mode: .train) }
        let batchNorm = KerasBatchNormStage(featureCount: features, options: KerasBatchNormOptions(featureCount: features))
        stageBenchmark("stage batch_norm", features: features) { try batchNorm.process(&$0, mode: .train) }
        let renorm = BatchRenormStage(
            featureCount: features, options: KerasBatchNormOptions(featureCount: features),
            clipping: RenormClipping(rmax: 3, rmin: 0.3333, dmax: 5))
        stageBenchmark("stage batch_renorm", features: features) { try renorm.process(&$0, mode: .train) }
        let chain = makeChain(features: features)
        stageBenchmark("chain (3 stages + checks)", features: features) { _ = try chain.process(&$0, mode: .train) }
        // The fused kernel (AffineMomentsKernel) next to the two passes it replaces. y = (x − 20)·1 + 20
        // keeps the batch's values from drifting over iterations; the shift is the data's mean (20),
        // so the moments are usable, as in a stationary stream.
        let affine = {
            var affine = CenteredAffine(featureCount: features)
            for f in 0..<features { affine.set(f, center: 20, scale: 1, offset: 20) }
            return affine
        }()
        let shift = [Float](repeating: 20, count: features)
        stageBenchmark("affine, then moments pass (unfused)", features: features) { batch in
            AffineTransform.apply(to: &batch, affine)
            blackHole(ColumnMoments(of: batch, nearMean: shift))
        }
        stageBenchmark("fused affine+moments (AffineMomentsKernel)", features: features) { batch in
            blackHole(AffineMomentsKernel.apply(to: &batch, affine, momentsAbout: shift))
        }
        stageBenchmark("fused affine+clamp+moments (AffineMomentsKernel, clip)", features: features) { batch in
            blackHole(AffineMomentsKernel.apply(to: &batch, affine, clamp: (low: 0, high: 40), momentsAbout: shift))
        }
    }
    chainEncodeBenchmark(features: 128)
    dataPathBenchmark(features: 128, rowsPerMessage: 1)
    dataPathBenchmark(features: 128, rowsPerMessage: 64)
}
