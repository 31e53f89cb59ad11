/// tf_keras' `renorm_clipping`: bounds on the renorm corrections `r` (scale) and `d` (shift).
/// A missing bound is not applied (tf_keras: "Missing rmax, rmin, dmax are set to inf, 0, inf").
public struct RenormClipping: Sendable, Equatable {
    public var rmax: Double?
    public var rmin: Double?
    public var dmax: Double?

    public init(rmax: Double? = nil, rmin: Double? = nil, dmax: Double? = nil) {
        self.rmax = rmax
        self.rmin = rmin
        self.dmax = dmax
    }

    /// No clipping at all (tf_keras' `renorm_clipping=None`).
    public static let none = RenormClipping()

    /// `r = 1`, `d = 0` whatever the batch: renorm reduces to plain batch norm.
    public static let plainBatchNorm = RenormClipping(rmax: 1, rmin: 1, dmax: 0)

    /// `rmin` first, then `rmax`, as tf_keras does (so with `rmin > rmax` the result is `rmax`).
    public func clampR(_ r: Double) -> Double {
        var clamped = r
        if let rmin { clamped = max(clamped, rmin) }
        if let rmax { clamped = min(clamped, rmax) }
        return clamped
    }

    public func clampD(_ d: Double) -> Double {
        guard let dmax else { return d }
        return min(max(d, -dmax), dmax)
    }
}
