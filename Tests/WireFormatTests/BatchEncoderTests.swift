import Foundation
import NormCore
import NpyFormat
import Pipeline
import StageKit
import Testing
import WireFormat

@Suite("BatchEncoder: frames a Python consumer reads back")
struct BatchEncoderTests {
    /// What the pipeline hands the sink; the encoder writes the header from it directly.
    static let info = PublishedBatch(
        pipeline: "cam \"front\" \\ line\nnext é", sequence: 41,
        outcome: ChainOutcome(mode: .infer, downgrade: .tooFewRows(rows: 3, minimum: 8)), stageKinds: ["batch_renorm", "clip"],
        statsVersion: 7,
        origins: [
            RowOrigin(input: 0, producer: "cam-1", seq: 17, rows: 0..<2, messageRows: 3..<5),
            RowOrigin(input: 1, producer: nil, seq: nil, rows: 2..<3, messageRows: 0..<1),
        ])

    /// The header as `json.dumps(json.loads(header), sort_keys=True)` prints it.
    static let expectedHeader =
        #"{"batch": 41, "downgraded": "3 rows is below batch.min_rows (8)", "dtype": "<f4", "mode": "infer", "pipeline": "cam \"front\" \\ line\nnext \u00e9", "shape": [3, 4], "sources": [{"message_rows": [3, 5], "producer": "cam-1", "rows": [0, 2], "seq": 17}, {"message_rows": [0, 1], "producer": null, "rows": [2, 3], "seq": null}], "stages": ["batch_renorm", "clip"], "stats_version": 7}"#

    /// Values that stress the float text: negative zero, a subnormal, extremes, non-terminating decimals.
    static let values: [Float] = [
        0.1, -0, Float(bitPattern: 1), .greatestFiniteMagnitude, -.leastNormalMagnitude, 1 / 3, 16_777_216, -2.5, 7e-10, 123456.79, 1, 0,
    ]

    static func encode(_ encoder: inout BatchEncoder, _ batch: FeatureBatch, _ info: PublishedBatch = info) -> [[UInt8]] {
        encoder.encode(batch, info) { frames in frames.map { Array($0) } }
    }

    /// What NumPy reads: `{"topic", "header" (sorted dump), "shape", "bits" (uint32 view)}`.
    static let tensorConsumer = """
        topic = frames[0].decode() if len(frames) == 3 else None
        h = json.loads(frames[-2])
        a = np.frombuffer(frames[-1], h["dtype"]).reshape(h["shape"])
        print(json.dumps({"topic": topic, "header": json.dumps(h, sort_keys=True), "shape": list(a.shape),
                          "dtype": str(a.dtype), "bits": a.view(np.uint32).ravel().tolist()}))
        """

    @Test("tensor: topic, header and payload as json.loads and np.frombuffer read them; names are escaped")
    func tensorReadByNumPy() throws {
        var encoder = BatchEncoder(codec: .tensor, topic: "normalized")
        let batch = FeatureBatch(rows: 3, features: 4, values: Self.values)
        let frames = Self.encode(&encoder, batch)
        #expect(frames.count == 3)
        let read = try #require(try Python.check(frames, Self.tensorConsumer) as? [String: Any])
        #expect(read["topic"] as? String == "normalized")
        #expect(read["header"] as? String == Self.expectedHeader)
        #expect(read["shape"] as? [Int] == [3, 4])
        #expect(read["dtype"] as? String == "float32")
        #expect(read["bits"] as? [UInt32] == Self.values.map(\.bitPattern))
    }

    @Test("tensor without a topic: [header][payload]; train mode; no downgraded key; exact header bytes")
    func tensorWithoutTopic() throws {
        var encoder = BatchEncoder()
        let info = PublishedBatch(
            pipeline: "p", sequence: 0, outcome: ChainOutcome(mode: .train), stageKinds: [], statsVersion: UInt64.max,
            origins: [RowOrigin(input: 0, producer: "a", seq: 0, rows: 0..<1, messageRows: 0..<1)])
        let frames = Self.encode(&encoder, FeatureBatch(rowsOf: [[1, 2]], features: 2), info)
        #expect(frames.count == 2)
        #expect(
            String(decoding: frames[0], as: UTF8.self)
                == #"{"dtype":"<f4","shape":[1,2],"pipeline":"p","batch":0,"mode":"train","stages":[],"stats_version":18446744073709551615,"sources":[{"producer":"a","seq":0,"rows":[0,1],"message_rows":[0,1]}]}"#
        )
        #expect(frames[1] == f4([1, 2]))
    }

    @Test("one encoder across a reload: a renamed pipeline and new stage kinds are in the next header, escaped; exact bytes")
    func namesFollowAReload() {
        var encoder = BatchEncoder()
        func header(_ pipeline: String, _ kinds: [String]) -> String {
            let info = PublishedBatch(
                pipeline: pipeline, sequence: 7, outcome: ChainOutcome(mode: .train), stageKinds: kinds, statsVersion: 3, origins: [])
            return String(decoding: Self.encode(&encoder, FeatureBatch(rowsOf: [[1]], features: 1), info)[0], as: UTF8.self)
        }
        let head = #"{"dtype":"<f4","shape":[1,1],"pipeline":"#, tail = #","stats_version":3,"sources":[]}"#
        #expect(header("p", ["min_max", "batch_norm"]) == head + #""p","batch":7,"mode":"train","stages":["min_max","batch_norm"]"# + tail)
        #expect(header("p", ["min_max", "batch_norm"]) == head + #""p","batch":7,"mode":"train","stages":["min_max","batch_norm"]"# + tail)
        #expect(header("p", ["batch_renorm"]) == head + #""p","batch":7,"mode":"train","stages":["batch_renorm"]"# + tail)
        #expect(header("q\"x", ["batch_renorm"]) == head + #""q\"x","batch":7,"mode":"train","stages":["batch_renorm"]"# + tail)
        #expect(header("q\"x", []) == head + #""q\"x","batch":7,"mode":"train","stages":[]"# + tail)
    }

    @Test("the tensor payload frame is the batch's own storage, not a copy")
    func payloadIsNotCopied() {
        var encoder = BatchEncoder()
        let batch = FeatureBatch(rows: 2, features: 2, values: [1, 2, 3, 4])
        let storage = batch.withUnsafeValues { UnsafeRawPointer($0.baseAddress) }
        let payload = encoder.encode(batch, Self.info) { frames in frames[1].baseAddress }
        #expect(payload == storage)
    }

    @Test("a warm encoder reuses its buffers without leaving stale bytes, and its output decodes back")
    func reuseAndRoundTrip() throws {
        var encoder = BatchEncoder(codec: .tensor, topic: "t")
        var decoder = MessageDecoder(codec: .tensor, features: 4)
        for rows in [3, 1, 0, 2] {
            let batch = FeatureBatch(rows: rows, features: 4, values: Array(Self.values.prefix(rows * 4)))
            let frames = Self.encode(&encoder, batch)
            #expect(
                try decoder.decode(frames).get()
                    == DecodedRows(rows: rows, features: 4, elementType: .float32, values: batch.values, topic: "t"))
        }
    }

    @Test("npy: np.load reads the single frame after the topic")
    func npyReadByNumPy() throws {
        var encoder = BatchEncoder(codec: .npy, topic: "")
        for rows in [3, 2] { // the second batch has another shape: the cached .npy header is rebuilt
            let batch = FeatureBatch(rows: rows, features: 4, values: Array(Self.values.prefix(rows * 4)))
            let frames = Self.encode(&encoder, batch)
            #expect(frames.count == 2 && frames[0].isEmpty)
            let read = try #require(
                try Python.check(
                    frames,
                    """
                    a = np.load(io.BytesIO(frames[1]))
                    print(json.dumps({"shape": list(a.shape), "dtype": a.dtype.str, "bits": a.view(np.uint32).ravel().tolist()}))
                    """) as? [String: Any])
            #expect(read["shape"] as? [Int] == [rows, 4])
            #expect(read["dtype"] as? String == "<f4")
            #expect(read["bits"] as? [UInt32] == batch.values.map(\.bitPattern))
        }
    }

    @Test("json: the header keys plus data; every Float32 reads back exactly through json.loads")
    func jsonReadByPython() throws {
        var encoder = BatchEncoder(codec: .json)
        var generator = SplitMix64(seed: 7)
        var random: [Float] = []
        while random.count < 4000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            if value.isFinite { random.append(value) }
        }
        let batch = FeatureBatch(rows: 1003, features: 4, values: Self.values + random)
        let frames = Self.encode(&encoder, batch)
        #expect(frames.count == 1)
        let read = try #require(
            try Python.check(
                frames,
                """
                h = json.loads(frames[0])
                data = np.array(h.pop("data"), dtype=np.float32)
                print(json.dumps({"header": json.dumps(h, sort_keys=True), "shape": list(data.shape),
                                  "bits": data.view(np.uint32).ravel().tolist()}))
                """) as? [String: Any])
        #expect(read["header"] as? String == Self.expectedHeader.replacingOccurrences(of: "[3, 4]", with: "[1003, 4]"))
        #expect(read["shape"] as? [Int] == [1003, 4])
        #expect(read["bits"] as? [UInt32] == batch.values.map(\.bitPattern))
    }

    @Test("json: non-finite values are written as NaN/Infinity, which json.loads accepts; 0 rows is data []")
    func jsonEdgeCases() throws {
        var encoder = BatchEncoder(codec: .json)
        let info = PublishedBatch(
            pipeline: "p", sequence: 1, outcome: ChainOutcome(mode: .train), stageKinds: ["minmax"], statsVersion: 2, origins: [])
        let frames = Self.encode(&encoder, FeatureBatch(rowsOf: [[.nan, .infinity, -.infinity]], features: 3), info)
        #expect(
            String(decoding: frames[0], as: UTF8.self)
                == #"{"dtype":"<f4","shape":[1,3],"pipeline":"p","batch":1,"mode":"train","stages":["minmax"],"stats_version":2,"sources":[],"data":[[NaN,Infinity,-Infinity]]}"#
        )
        let empty = Self.encode(&encoder, FeatureBatch(rows: 0, features: 3), info)
        #expect(String(decoding: empty[0], as: UTF8.self).hasSuffix(#""sources":[],"data":[]}"#))
        let read = try Python.check(
            frames + empty,
            """
            print(json.dumps([repr(json.loads(f)["data"]) for f in frames]))
            """)
        #expect(read as? [String] == ["[[nan, inf, -inf]]", "[]"])
    }

    @Test(
        "sources: escaped producers (repeated as another String with the same bytes, and again after another producer), nulls, UInt64.max; exact bytes"
    )
    func sourcesExactBytes() {
        var encoder = BatchEncoder()
        let odd = "cam\"1\\x\n\r\t\u{1}é"
        let sameBytes = String(decoding: Array(odd.utf8), as: UTF8.self) // equal, but not the same storage
        let info = PublishedBatch(
            pipeline: "p", sequence: 3, outcome: ChainOutcome(mode: .train), stageKinds: [], statsVersion: 1,
            origins: [
                RowOrigin(input: 0, producer: odd, seq: .max, rows: 0..<1, messageRows: 5..<6),
                RowOrigin(input: 0, producer: sameBytes, seq: 0, rows: 1..<3, messageRows: 0..<2),
                RowOrigin(input: 1, producer: nil, seq: nil, rows: 3..<4, messageRows: 9..<10),
                RowOrigin(input: 0, producer: "b", seq: 12345, rows: 4..<5, messageRows: 0..<1),
                RowOrigin(input: 0, producer: odd, seq: 7, rows: 5..<6, messageRows: 1_000_000..<1_000_001),
            ])
        let frames = Self.encode(&encoder, FeatureBatch(rows: 6, features: 1), info)
        #expect(
            String(decoding: frames[0], as: UTF8.self)
                == #"{"dtype":"<f4","shape":[6,1],"pipeline":"p","batch":3,"mode":"train","stages":[],"stats_version":1,"sources":["#
                + #"{"producer":"cam\"1\\x\n\r\t\u0001é","seq":18446744073709551615,"rows":[0,1],"message_rows":[5,6]},"#
                + #"{"producer":"cam\"1\\x\n\r\t\u0001é","seq":0,"rows":[1,3],"message_rows":[0,2]},"#
                + #"{"producer":null,"seq":null,"rows":[3,4],"message_rows":[9,10]},"#
                + #"{"producer":"b","seq":12345,"rows":[4,5],"message_rows":[0,1]},"#
                + #"{"producer":"cam\"1\\x\n\r\t\u0001é","seq":7,"rows":[5,6],"message_rows":[1000000,1000001]}]}"#)
        // The same warm encoder on a shorter list: no stale bytes from the longer one.
        var short = info
        short.origins = [RowOrigin(input: 0, producer: nil, seq: 1, rows: 0..<1, messageRows: 0..<1)]
        let again = Self.encode(&encoder, FeatureBatch(rows: 1, features: 1), short)
        #expect(
            String(decoding: again[0], as: UTF8.self)
                == #"{"dtype":"<f4","shape":[1,1],"pipeline":"p","batch":3,"mode":"train","stages":[],"stats_version":1,"sources":[{"producer":null,"seq":1,"rows":[0,1],"message_rows":[0,1]}]}"#
        )
    }

    @Test("sources: every decimal length of seq (1 to 20 digits, each side of every power of ten) and of the row numbers; exact bytes")
    func sourcesDecimalLengths() {
        // 0, then 10^k − 1 and 10^k for k = 1…19, then UInt64.max: the last value of each length and the
        // first of the next, where a digit count or a two-digits-per-step writer goes wrong first.
        var seqs: [UInt64] = [0]
        var power: UInt64 = 1
        for _ in 1...19 {
            power *= 10
            seqs += [power - 1, power, power + 1]
        }
        seqs += [UInt64.max - 1, .max, 7, 42, 100, 12_345, 99_999_999]
        // Row numbers of every length up to Int.max, as `[start, stop]` pairs.
        let rowStarts = seqs.map { Int(clamping: $0 / 2) }
        let info = PublishedBatch(
            pipeline: "p", sequence: 0, outcome: ChainOutcome(mode: .infer), stageKinds: [], statsVersion: 0,
            origins: seqs.indices.map { index in
                let start = min(rowStarts[index], Int.max - 1)
                return RowOrigin(input: 0, producer: nil, seq: seqs[index], rows: index..<(index + 1), messageRows: start..<(start + 1))
            })
        var encoder = BatchEncoder()
        let frames = Self.encode(&encoder, FeatureBatch(rows: seqs.count, features: 1), info)
        let entries = seqs.indices.map { index in
            let start = min(rowStarts[index], Int.max - 1)
            return #"{"producer":null,"seq":\#(String(seqs[index])),"rows":[\#(index),\#(index + 1)],"message_rows":[\#(start),\#(start + 1)]}"#
        }
        #expect(
            String(decoding: frames[0], as: UTF8.self)
                == #"{"dtype":"<f4","shape":[\#(seqs.count),1],"pipeline":"p","batch":0,"mode":"infer","stages":[],"stats_version":0,"sources":["#
                + entries.joined(separator: ",") + "]}")
    }

    @Test("sources of a 256-row batch of 1-row messages: 256 entries, exact bytes, again on a warm encoder")
    func sourcesOfManyMessages() {
        var encoder = BatchEncoder()
        for batch in 0..<2 {
            let first = 1_000_000 + 256 * batch
            let info = PublishedBatch(
                pipeline: "p", sequence: UInt64(batch), outcome: ChainOutcome(mode: .infer), stageKinds: ["min_max"], statsVersion: 0,
                origins: (0..<256).map {
                    RowOrigin(input: 0, producer: "producer-0", seq: UInt64(first + $0), rows: $0..<($0 + 1), messageRows: 0..<1)
                })
            let entries = (0..<256).map { #"{"producer":"producer-0","seq":\#(first + $0),"rows":[\#($0),\#($0 + 1)],"message_rows":[0,1]}"# }
            let frames = Self.encode(&encoder, FeatureBatch(rows: 256, features: 1), info)
            #expect(
                String(decoding: frames[0], as: UTF8.self)
                    == #"{"dtype":"<f4","shape":[256,1],"pipeline":"p","batch":\#(batch),"mode":"infer","stages":["min_max"],"stats_version":0,"sources":["#
                    + entries.joined(separator: ",") + "]}")
        }
    }
}

/// A small deterministic generator (Vigna's SplitMix64) so the float sample is the same every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
