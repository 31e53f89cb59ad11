/// How a producer frames the rows it sends to normd (`input.codec` in the configuration).
///
/// Each codec needs a fixed number of frames; exactly one extra leading frame is a topic (what a
/// PUB socket sends first), so the same rule works for PULL and SUB and for publishers that send
/// no topic at all.
public enum InputCodec: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `[header JSON][raw payload]`: pyzmq's `send_json(header, SNDMORE); send(array)` recipe. The default.
    case tensor
    /// One frame holding a `.npy` file, as `np.save` writes it.
    case npy
    /// One frame holding a JSON array of numbers, an array of rows, or `{"data": …}`.
    case json

    /// The number of frames a message of this codec has, not counting a topic frame.
    public var frameCount: Int {
        switch self {
        case .tensor: 2
        case .npy, .json: 1
        }
    }

    public var description: String { rawValue }
}
