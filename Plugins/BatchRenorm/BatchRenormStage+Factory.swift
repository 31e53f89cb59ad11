import BatchNorm
public import StageKit

extension BatchRenormStage {
    static let conventionSpec = ParameterSpec(
        "convention", .word, default: .text(convention), doc: "keras | tf_keras (PyTorch has no batch renorm)")
    static let renormMomentum = ParameterSpec(
        "renorm_momentum", .number, default: .number(0.99), rule: .unitInterval,
        doc: "fraction of the renorm statistics kept per batch")
    static let renorm = ParameterSpec("renorm", .flag, default: .flag(true), doc: "only true; false is plain batch_norm")
    static let rmax = ParameterSpec("rmax", .number, rule: .positive, doc: "upper bound of the scale correction r")
    static let rmin = ParameterSpec("rmin", .number, rule: .positive, doc: "lower bound of r, <= rmax")
    static let dmax = ParameterSpec("dmax", .number, rule: .nonNegative, doc: "bound of the shift correction |d|")
    static let clippingSpec = ParameterSpec(
        "renorm_clipping", .mapping, doc: "bounds on r and d; a missing one is not applied", children: [rmax, rmin, dmax])
    static let warmupStart = ParameterSpec(
        "start", .integer, default: .number(0), rule: .nonNegative, doc: "train batch where relaxing starts")
    static let warmupEnd = ParameterSpec("end", .integer, doc: "train batch where the full bounds apply (required, >= start)")
    static let warmupSpec = ParameterSpec(
        "renorm_warmup", .mapping, doc: "relax the bounds linearly over train batches (the paper's schedule)",
        children: [warmupStart, warmupEnd])

    /// Every key of `type: batch_renorm`, in reading order.
    public static let parameters = [conventionSpec] + KerasParameters.all + [renormMomentum, renorm, clippingSpec, warmupSpec]

    /// Builds `type: batch_renorm` from tf_keras' keys (`momentum`, `epsilon`, `center`, `scale`,
    /// `gamma`, `beta`, `virtual_batch_size`, `renorm_momentum`, `renorm_clipping: {rmax, rmin, dmax}`,
    /// `renorm` — only `true`), the warm-up `renorm_warmup: {start, end}` and `convention`
    /// (`keras`/`tf_keras`; PyTorch has no batch renorm).
    public static let factory = StageFactory(
        kind: kind,
        summary: "batch renormalization (tf_keras BatchNormalization(renorm=True)), optional renorm_warmup schedule",
        parameters: parameters
    ) { reader, context in
        let mark = reader.diagnostics.mark()
        reader.declare(parameters)
        readConvention(reader)
        let hint = "a PyTorch-style momentum m is 1 − m here"
        let options = KerasBatchNormOptions.read(from: reader, context: context, momentumHint: hint)
        let renormMomentum = KerasBatchNormOptions.readMomentum(renormMomentum, from: reader, statistics: "renorm statistics", hint: hint)
        if reader.optionalBool(renorm.key) == false {
            reader.error(renorm.key, "renorm: false is plain batch norm: use 'type: batch_norm'")
        }
        let clipping = reader.nested(clippingSpec.key).map(readClipping) ?? .none
        let warmup = reader.nested(warmupSpec.key).flatMap(readWarmup)
        if warmup != nil { warnAboutMissingBounds(clipping, reader: reader) }
        reader.finish()
        guard mark.noNewErrors else { return nil }
        return StageBlueprint {
            BatchRenormStage(
                featureCount: context.featureCount, options: options, renormMomentum: renormMomentum,
                clipping: clipping, warmup: warmup)
        }
    }

    private static func readConvention(_ reader: ParameterReader) {
        if case .string("torch")? = reader.value(conventionSpec.key)?.value {
            reader.error(conventionSpec.key, "PyTorch has no batch renorm; batch_renorm follows tf_keras (convention: keras or tf_keras)")
        } else {
            _ = reader.choice(conventionSpec.key, among: KerasParameters.conventions, default: conventionSpec.defaultText)
        }
    }

    /// `renorm_clipping: {rmax, rmin, dmax}`: each optional; `rmax`, `rmin` > 0, `rmin <= rmax`, `dmax >= 0`.
    private static func readClipping(_ reader: ParameterReader) -> RenormClipping {
        var clipping = RenormClipping()
        reader.declare(clippingSpec.children)
        clipping.rmax = reader.optionalNumber(rmax)
        if let rmin = reader.optionalNumber(rmin) {
            if let rmax = clipping.rmax, rmin > rmax {
                let written = reader.value(self.rmax.key)?.quoted ?? String(rmax)
                reader.require(self.rmin.key, false, "must be <= rmax (\(written))")
            } else {
                clipping.rmin = rmin
            }
        }
        clipping.dmax = reader.optionalNumber(dmax)
        reader.finish()
        return clipping
    }

    /// `renorm_warmup: {start, end}` in train batches; `start` defaults to 0, `end` is required.
    private static func readWarmup(_ reader: ParameterReader) -> RenormWarmup? {
        reader.declare(warmupSpec.children)
        let start = reader.int(warmupStart.key, default: Int(warmupStart.defaultNumber))
        let end = reader.optionalInt(warmupEnd.key)
        let startValid = reader.require(warmupStart.key, warmupStart.rule.admits(Double(start)), warmupStart.rule.message)
        if reader.value(warmupEnd.key)?.isNull ?? true {
            reader.error(nil, "missing 'end' (the train batch from which the configured renorm_clipping applies)")
        }
        reader.finish()
        guard startValid, let end else { return nil }
        guard reader.require(warmupEnd.key, end >= start, "must be >= start (\(start))") else { return nil }
        return RenormWarmup(start: Int64(start), end: Int64(end))
    }

    /// A warm-up ramps each bound towards its configured value; a missing bound has none to ramp to.
    private static func warnAboutMissingBounds(_ clipping: RenormClipping, reader: ParameterReader) {
        let missing = [("rmax", clipping.rmax), ("rmin", clipping.rmin), ("dmax", clipping.dmax)]
            .filter { $0.1 == nil }.map(\.0)
        guard !missing.isEmpty else { return }
        reader.warning(
            "renorm_warmup",
            "renorm_clipping sets no \(missing.joined(separator: ", ")): "
                + "a missing bound stays at its batch-norm value (rmax = rmin = 1, dmax = 0) until the warm-up ends, then vanishes; "
                + "set it explicitly (the paper uses rmin = 1/rmax)")
    }
}
