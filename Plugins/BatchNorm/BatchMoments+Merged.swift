public import NormCore

extension BatchMoments {
    /// The moments of a batch known only through its combined moments — a sync group's merged step
    /// (no ghost batches: `virtual_batch_size` is refused in a sync group).
    public init(combined: ColumnMoments) {
        ghosts = []
        self.combined = combined
    }
}
