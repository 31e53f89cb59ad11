/// What a train step of an affine stage needs to know about its input batch, per feature: the row
/// count, the Float32 extremes and the Float64 mean and biased variance (`ColumnSummaryKernel`).
///
/// A stage that is, per feature, an affine map `y = (x − c)·s + o` of its input (Float32, the
/// coefficients from the input's statistics) has an output summary that follows from its input's
/// without reading the output (`mapped(through:into:)`):
///
/// ```
/// low_y, high_y = the Float32 images of low_x, high_x  (swapped when s < 0)
/// mean_y        = (mean_x − c)·s + o                   (Float64, c, s, o the Float32 coefficients widened)
/// var_y         = s²·var_x
/// ```
///
/// The extremes are **exact**: `t ↦ fl(fl(fl(t − c)·s) + o)` is monotone in `t` (each rounding is),
/// so the extremes of the written values are the images of the input's extremes, the same bits a
/// `ColumnExtremesKernel` pass over the output would give. The same argument makes them a proof of
/// finiteness: every written value lies between the two images, so finite images mean a finite
/// output. The moments are exact in real arithmetic; the Float32 rounding of each written value
/// moves them by ~1e-7 relative (a sum of n roundings of at most half an ulp each).
public struct ColumnSummary: Sendable, Equatable {
    public var count: Int
    public var low: [Float]
    public var high: [Float]
    public var mean: [Double]
    /// Biased (÷N) variance.
    public var variance: [Double]

    public init(count: Int, low: [Float], high: [Float], mean: [Double], variance: [Double]) {
        self.count = count
        self.low = low
        self.high = high
        self.mean = mean
        self.variance = variance
    }

    /// An empty summary (storage to be filled and reused).
    public init() { self.init(count: 0, low: [], high: [], mean: [], variance: []) }

    public var features: Int { mean.count }

    /// The mean and variance as `ColumnMoments` (shares the arrays: no copy).
    public var moments: ColumnMoments { ColumnMoments(count: count, mean: mean, variance: variance) }

    /// Writes into `output` the summary of this batch after `coefficients` were applied to it (see the
    /// type's documentation), in `output`'s storage (no allocation once it has the width and is not
    /// shared).
    /// - Returns: whether the output's extremes are finite (which proves every output value finite)
    ///   and so are its mean and variance.
    @discardableResult
    public func mapped(through coefficients: borrowing CenteredAffine, into output: inout ColumnSummary) -> Bool {
        let features = self.features
        precondition(
            coefficients.center.count == features && low.count == features && high.count == features && variance.count == features)
        output.count = count
        // Every element is written below: sized, not filled.
        output.low.resize(to: features, filling: 0)
        output.high.resize(to: features, filling: 0)
        output.mean.resize(to: features, filling: 0)
        output.variance.resize(to: features, filling: 0)
        // Raw pointers, exponent tests OR-ed and a `while`: no bounds check and no branch per feature, so
        // the loop vectorises (as `ColumnMoments.finishAboutShift`'s). It runs once per stage per batch.
        var nonFinite: UInt32 = 0
        var nonFiniteMoments: UInt64 = 0
        let single: UInt32 = 0x7F80_0000, double: UInt64 = 0x7FF0_0000_0000_0000
        withInputs(coefficients) { low, high, mean, variance, c, s, o in
            output.withOutputs { outLow, outHigh, outMean, outVariance in
                // Two loops, one per width (Float extremes, Double moments): each vectorises on its own.
                var f = 0
                while f < features {
                    defer { f &+= 1 }
                    let a = (low[f] - c[f]) * s[f] + o[f], b = (high[f] - c[f]) * s[f] + o[f]
                    outLow[f] = min(a, b)
                    outHigh[f] = max(a, b)
                    nonFinite |= (a.bitPattern & single == single ? 1 : 0) | (b.bitPattern & single == single ? 1 : 0)
                }
                f = 0
                while f < features {
                    defer { f &+= 1 }
                    let scale = Double(s[f])
                    let m = (mean[f] - Double(c[f])) * scale + Double(o[f]), v = scale * scale * variance[f]
                    outMean[f] = m
                    outVariance[f] = v
                    nonFiniteMoments |= (m.bitPattern & double == double ? 1 : 0) | (v.bitPattern & double == double ? 1 : 0)
                }
            }
        }
        return nonFinite == 0 && nonFiniteMoments == 0
    }

    /// This summary's arrays and `coefficients`' as raw pointers.
    private func withInputs(
        _ coefficients: borrowing CenteredAffine,
        _ body: (
            UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Float>,
            UnsafePointer<Float>, UnsafePointer<Float>
        ) -> Void
    ) {
        low.withUnsafeBufferPointer { low in
            high.withUnsafeBufferPointer { high in
                mean.withUnsafeBufferPointer { mean in
                    variance.withUnsafeBufferPointer { variance in
                        coefficients.center.withUnsafeBufferPointer { c in
                            coefficients.scale.withUnsafeBufferPointer { s in
                                coefficients.offset.withUnsafeBufferPointer { o in
                                    body(
                                        low.baseAddress!, high.baseAddress!, mean.baseAddress!, variance.baseAddress!, c.baseAddress!,
                                        s.baseAddress!, o.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// This summary's arrays as mutable raw pointers.
    private mutating func withOutputs(
        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void
    ) {
        low.withUnsafeMutableBufferPointer { low in
            high.withUnsafeMutableBufferPointer { high in
                mean.withUnsafeMutableBufferPointer { mean in
                    variance.withUnsafeMutableBufferPointer { variance in
                        body(low.baseAddress!, high.baseAddress!, mean.baseAddress!, variance.baseAddress!)
                    }
                }
            }
        }
    }
}
