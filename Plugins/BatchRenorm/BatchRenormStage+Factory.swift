import BatchNorm
public import StageKit

extension BatchRenormStage {
    /// Builds `type: batch_renorm` from tf_keras' keys (`momentum`, `epsilon`, `center`, `scale`,
    /// `gamma`, `beta`, `virtual_batch_size`, `renorm_momentum`, `renorm_clipping: {rmax, rmin, dmax}`,
    /// `renorm` — only `true`), the warm-up `renorm_warmup: {start, end}` and `convention`
    /// (`keras`/`tf_keras`; PyTorch has no batch renorm).
    public static let factory = StageFactory(
        kind: kind,
        summary: "batch renormalization (tf_keras BatchNormalization(renorm=True)), optional renorm_warmup schedule"
    ) { reader, context in
        let errorsBefore = reader.diagnostics.errors.count
        readConvention(reader)
        let hint = "a PyTorch-style momentum m is 1 − m here"
        let options = KerasBatchNormOptions.read(from: reader, context: context, momentumHint: hint)
        let renormMomentum = KerasBatchNormOptions.readMomentum("renorm_momentum", from: reader, statistics: "renorm statistics", hint: hint)
        if reader.optionalBool("renorm") == false {
            reader.error("renorm", "renorm: false is plain batch norm: use 'type: batch_norm'")
        }
        let clipping = reader.nested("renorm_clipping").map(readClipping) ?? .none
        let warmup = reader.nested("renorm_warmup").flatMap(readWarmup)
        if warmup != nil { warnAboutMissingBounds(clipping, reader: reader) }
        reader.finish()
        guard reader.diagnostics.errors.count == errorsBefore else { return nil }
        return BatchRenormStage(featureCount: context.featureCount, options: options, renormMomentum: renormMomentum,
                                clipping: clipping, warmup: warmup)
    }

    private static func readConvention(_ reader: ParameterReader) {
        if case .string("torch")? = reader.value("convention")?.value {
            reader.error("convention", "PyTorch has no batch renorm; batch_renorm follows tf_keras (convention: keras or tf_keras)")
        } else {
            _ = reader.choice("convention", among: ["keras", "tf_keras"], default: convention)
        }
    }

    /// `renorm_clipping: {rmax, rmin, dmax}`: each optional; `rmax`, `rmin` > 0, `rmin <= rmax`, `dmax >= 0`.
    private static func readClipping(_ reader: ParameterReader) -> RenormClipping {
        var clipping = RenormClipping()
        if let rmax = reader.optionalDouble("rmax"), reader.require("rmax", rmax > 0, "must be > 0") {
            clipping.rmax = rmax
        }
        if let rmin = reader.optionalDouble("rmin"), reader.require("rmin", rmin > 0, "must be > 0") {
            if let rmax = clipping.rmax, rmin > rmax {
                let written = reader.value("rmax")?.quoted ?? String(rmax)
                reader.require("rmin", false, "must be <= rmax (\(written))")
            } else {
                clipping.rmin = rmin
            }
        }
        if let dmax = reader.optionalDouble("dmax"), reader.require("dmax", dmax >= 0, "must be >= 0") {
            clipping.dmax = dmax
        }
        reader.finish()
        return clipping
    }

    /// `renorm_warmup: {start, end}` in train batches; `start` defaults to 0, `end` is required.
    private static func readWarmup(_ reader: ParameterReader) -> RenormWarmup? {
        let start = reader.int("start", default: 0)
        let end = reader.optionalInt("end")
        let startValid = reader.require("start", start >= 0, "must be >= 0")
        if reader.value("end")?.isNull ?? true {
            reader.error(nil, "missing 'end' (the train batch from which the configured renorm_clipping applies)")
        }
        reader.finish()
        guard startValid, let end else { return nil }
        guard reader.require("end", end >= start, "must be >= start (\(start))") else { return nil }
        return RenormWarmup(start: Int64(start), end: Int64(end))
    }

    /// A warm-up ramps each bound towards its configured value; a missing bound has none to ramp to.
    private static func warnAboutMissingBounds(_ clipping: RenormClipping, reader: ParameterReader) {
        let missing = [("rmax", clipping.rmax), ("rmin", clipping.rmin), ("dmax", clipping.dmax)]
            .filter { $0.1 == nil }.map(\.0)
        guard !missing.isEmpty else { return }
        reader.warning("renorm_warmup", "renorm_clipping sets no \(missing.joined(separator: ", ")): "
            + "a missing bound stays at its batch-norm value (rmax = rmin = 1, dmax = 0) until the warm-up ends, then vanishes; "
            + "set it explicitly (the paper uses rmin = 1/rmax)")
    }
}
