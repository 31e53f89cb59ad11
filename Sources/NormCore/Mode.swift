/// How a batch runs through the stages.
///
/// Mirrors `layer(x, training=True/False)` in Keras and `bn.train()` / `bn.eval()` in PyTorch.
public enum Mode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Normalize with the batch's own statistics and update the running statistics.
    case train
    /// Normalize with the frozen running statistics; nothing changes.
    case infer

    public var description: String { rawValue }
}
