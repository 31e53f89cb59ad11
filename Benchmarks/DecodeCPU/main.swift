// Thread CPU time of decoding one 1-row tensor message (header + 128 Float32), with the tensor header
// cache hitting (one producer: only `seq` changes) against missing every time (two header layouts
// interleaved on one input, so each header differs from the previous one outside its digits: the
// full JSON parse, what every message cost before the cache). Run with `Benchmarks/cpu-micro.sh DecodeCPU`.
import Glibc
import WireFormat

func cpuNow() -> Double { var t = timespec(); clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
let features = 128, messages = 4096
let payload = [UInt8](repeating: 0x3F, count: features * 4)
/// Headers `prefix + seq + "}"`, the prefixes taken in turn.
func headers(_ prefixes: [String]) -> [[UInt8]] {
    (0..<messages).map { (seq: Int) -> [UInt8] in
        let text: String = prefixes[seq % prefixes.count] + String(1_000_000 + seq) + "}"
        return Array(text.utf8)
    }
}
let hit = headers([#"{"dtype":"<f4","shape":[1,128],"seq":"#])
let miss = headers([#"{"dtype":"<f4","shape":[1,128],"seq":"#, #"{"dtype": "<f4","shape":[1,128],"seq":"#])

func nanosecondsPerMessage(_ headers: [[UInt8]]) -> Double {
    var decoder = MessageDecoder(codec: .tensor, features: features)
    var best = Double.infinity, checksum: UInt64 = 0
    for _ in 0..<30 {
        let start = cpuNow()
        for header in headers {
            header.withUnsafeBytes { h in
                payload.withUnsafeBytes { p in
                    withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 2) { frames in
                        frames[0] = h
                        frames[1] = p
                        checksum &+= (try? decoder.decode(UnsafeBufferPointer(frames)))?.seq ?? 0
                    }
                }
            }
        }
        best = min(best, (cpuNow() - start) / Double(headers.count) * 1e9)
    }
    precondition(checksum > 0)
    return best
}
for round in 0..<3 {
    print("round \(round): header cache hit", Int(nanosecondsPerMessage(hit)), "ns/message; miss (full parse)",
          Int(nanosecondsPerMessage(miss)), "ns/message (min over 30 × 4096 messages)")
}
