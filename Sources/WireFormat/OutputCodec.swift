/// How normd frames the normalized batches it publishes (`output.codec` in the configuration).
public enum OutputCodec: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `[topic][header JSON][raw <f4 payload]`: the payload frame is the batch's own bytes. The default.
    case tensor
    /// `[topic][.npy file]`: readable with `np.load(io.BytesIO(frame))`, but the header fields
    /// (pipeline, batch, mode, sources, …) are not sent.
    case npy
    /// `[topic][JSON object]`: the tensor header's keys plus `"data": [[…], …]`. Slow and large; for
    /// debugging and for consumers without NumPy.
    case json

    public var description: String { rawValue }
}
