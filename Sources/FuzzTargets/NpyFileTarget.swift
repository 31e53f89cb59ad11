import NormCore
import NpyFormat

/// Reads the bytes as a `.npy` file, as `normd apply --input` does (2-D only), and as a producer's
/// single vector may be (1-D or 2-D). The input is the file itself (seeds are `np.save` output).
///
/// An accepted batch must survive `Npy.encode` → `Npy.decode` bit for bit (the writer of
/// `apply --output` and the reader agree).
@discardableResult
public func fuzzNpyFile(_ data: UnsafeRawBufferPointer) -> Bool {
    var accepted = false
    for rank in [Npy.Rank.twoDimensional, .oneOrTwoDimensional] {
        let batch: FeatureBatch
        do throws(NpyError) {
            batch = try Npy.decode(data, rank: rank)
        } catch {
            guard !error.description.isEmpty else { violated(.npyFile, "a refusal without a message") }
            continue
        }
        let encoded = Npy.encode(batch)
        let decoded = encoded.withUnsafeBytes { bytes in Result { () throws(NpyError) in try Npy.decode(bytes, rank: .twoDimensional) } }
        guard case .success(let again) = decoded else {
            violated(.npyFile, "a \(batch.rows)×\(batch.features) batch written by Npy.encode is refused by Npy.decode: \(decoded)")
        }
        guard again.rows == batch.rows, again.features == batch.features, bitPatterns(again) == bitPatterns(batch) else {
            violated(.npyFile, "Npy.encode → Npy.decode changed a \(batch.rows)×\(batch.features) batch")
        }
        accepted = true
    }
    return accepted
}

private func bitPatterns(_ batch: FeatureBatch) -> [UInt32] {
    batch.withUnsafeValues { $0.map(\.bitPattern) }
}
