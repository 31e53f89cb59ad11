/// The Batch Renormalization paper's warm-up (arXiv 1702.03275, §4: "rmax = 1, dmax = 0 (i.e. simply
/// batchnorm) for the first 5000 training steps, after which these were gradually relaxed"), which no
/// library ships: `renorm_warmup: {start: N1, end: N2}` counts train batches.
///
/// - train batches `0 ..< start`: `rmax = rmin = 1`, `dmax = 0` — plain batch norm, while the renorm
///   statistics that r and d are measured against are still mostly their initial (0, 1);
/// - `start ..< end`: each configured bound moves linearly from its batch-norm value (1 for
///   `rmax`/`rmin`, 0 for `dmax`) to its configured value, reaching it at batch `end`;
/// - from `end` on: the configured `renorm_clipping`.
///
/// A bound `renorm_clipping` leaves out has no finite value to move towards; it stays at its
/// batch-norm value until `end` and is lifted there (the factory warns about it), so the warm-up never
/// loosens faster than the bounds that were given.
public struct RenormWarmup: Sendable, Equatable {
    public var start: Int64
    public var end: Int64

    public init(start: Int64, end: Int64) {
        precondition(0 <= start && start <= end, "renorm_warmup needs 0 <= start <= end")
        self.start = start
        self.end = end
    }

    /// The bounds for the train batch with 0-based index `batch` (the batches trained before it).
    public func clipping(atTrainBatch batch: Int64, target: RenormClipping) -> RenormClipping {
        if batch >= end { return target }
        if batch < start { return .plainBatchNorm }
        let progress = Double(batch - start) / Double(end - start)
        func ramp(_ bound: Double?, from plain: Double) -> Double {
            bound.map { plain + ($0 - plain) * progress } ?? plain
        }
        return RenormClipping(rmax: ramp(target.rmax, from: 1), rmin: ramp(target.rmin, from: 1), dmax: ramp(target.dmax, from: 0))
    }
}
