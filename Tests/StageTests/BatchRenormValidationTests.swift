import NormTesting
import Testing

/// Every message `batch_renorm` reports, asserted whole.
@Suite struct BatchRenormValidationTests {
    static func warmupWarning(missing: String) -> String {
        "renorm_clipping sets no \(missing): a missing bound stays at its batch-norm value (rmax = rmin = 1, dmax = 0) "
            + "until the warm-up ends, then vanishes; set it explicitly (the paper uses rmin = 1/rmax)"
    }

    @Test func rmaxMustBePositive() {
        expectIssues(
            [("type", "batch_renorm"), ("renorm_clipping", .map([("rmax", "-1")]))],
            [
                "cfg.yaml:4:13: pipelines[0].stages[0].renorm_clipping.rmax: must be > 0, got -1"
            ])
    }

    @Test func rminAtMostRmaxDmaxNonNegativeAndUnknownClippingKeys() {
        expectIssues(
            [("type", "batch_renorm"), ("renorm_clipping", .map([("rmax", "1.5"), ("rmin", "2"), ("dmax", "-1"), ("rmxa", "3")]))],
            [
                "cfg.yaml:5:13: pipelines[0].stages[0].renorm_clipping.rmin: must be <= rmax (1.5), got 2",
                "cfg.yaml:6:13: pipelines[0].stages[0].renorm_clipping.dmax: must be >= 0, got -1",
                "cfg.yaml:7:7: pipelines[0].stages[0].renorm_clipping.rmxa: unknown key 'rmxa'; did you mean 'rmax'?",
            ])
    }

    @Test func torchConventionAndRenormFalseAndRminPositive() {
        expectIssues(
            [("type", "batch_renorm"), ("renorm_clipping", .map([("rmin", "0")])), ("renorm", "false"), ("convention", "torch")],
            [
                "cfg.yaml:6:17: pipelines[0].stages[0].convention: PyTorch has no batch renorm; batch_renorm follows tf_keras (convention: keras or tf_keras)",
                "cfg.yaml:5:13: pipelines[0].stages[0].renorm: renorm: false is plain batch norm: use 'type: batch_norm'",
                "cfg.yaml:4:13: pipelines[0].stages[0].renorm_clipping.rmin: must be > 0, got 0",
            ])
    }

    @Test func sharedKerasKeysAndClippingType() {
        expectIssues(
            [("type", "batch_renorm"), ("virtual_batch_size", "5"), ("scale", "false"), ("gamma", "1"), ("renorm_clipping", "3")],
            [
                "cfg.yaml:5:12: pipelines[0].stages[0].gamma: is given but scale is false (no gamma is applied); remove it or set scale: true",
                "cfg.yaml:3:25: pipelines[0].stages[0].virtual_batch_size: batch.size (16) must be a multiple of virtual_batch_size (5)",
                "cfg.yaml:6:22: pipelines[0].stages[0].renorm_clipping: expected a mapping, got an integer 3",
            ])
    }

    @Test func lowMomentumsWarnButBuild() {
        expectIssues(
            [("type", "batch_renorm"), ("momentum", "0.1"), ("renorm_momentum", "0.25"), ("renorm", "true"), ("convention", "keras")],
            [
                "cfg.yaml:3:15: warning: pipelines[0].stages[0].momentum: momentum 0.1 keeps only 10% of the moving statistics per batch; "
                    + "Keras' momentum is the fraction kept (0.99 typical) — a PyTorch-style momentum m is 1 − m here",
                "cfg.yaml:4:22: warning: pipelines[0].stages[0].renorm_momentum: renorm_momentum 0.25 keeps only 25% of the renorm statistics per batch; "
                    + "Keras' renorm_momentum is the fraction kept (0.99 typical) — a PyTorch-style momentum m is 1 − m here",
            ], built: true)
    }

    @Test func warmupStartMustBeNonNegative() {
        expectIssues(
            [
                ("type", "batch_renorm"), ("renorm_clipping", .map([("rmax", "3"), ("rmin", "0.33"), ("dmax", "5")])),
                ("renorm_warmup", .map([("start", "-1"), ("end", "5")])),
            ],
            [
                "cfg.yaml:8:14: pipelines[0].stages[0].renorm_warmup.start: must be >= 0, got -1"
            ])
    }

    @Test func warmupEndMustNotPrecedeStart() {
        expectIssues(
            [
                ("type", "batch_renorm"), ("renorm_clipping", .map([("rmax", "3"), ("rmin", "0.33"), ("dmax", "5")])),
                ("renorm_warmup", .map([("start", "10"), ("end", "5")])),
            ],
            [
                "cfg.yaml:9:12: pipelines[0].stages[0].renorm_warmup.end: must be >= start (10), got 5"
            ])
    }

    @Test func warmupNeedsAnEnd() {
        expectIssues(
            [
                ("type", "batch_renorm"), ("renorm_clipping", .map([("rmax", "3"), ("rmin", "0.33"), ("dmax", "5")])),
                ("renorm_warmup", .map([("start", "3"), ("stop", "5")])),
            ],
            [
                "cfg.yaml:8:7: pipelines[0].stages[0].renorm_warmup: missing 'end' (the train batch from which the configured renorm_clipping applies)",
                "cfg.yaml:9:7: pipelines[0].stages[0].renorm_warmup.stop: unknown key 'stop'; expected one of: start, end",
            ])
    }

    @Test func warmupWithMissingBoundsWarns() {
        expectIssues(
            [("type", "batch_renorm"), ("renorm_clipping", .map([("rmax", "3")])), ("renorm_warmup", .map([("end", "5000")]))],
            [
                "cfg.yaml:6:7: warning: pipelines[0].stages[0].renorm_warmup: \(Self.warmupWarning(missing: "rmin, dmax"))"
            ], built: true)
        expectIssues(
            [("type", "batch_renorm"), ("renorm_warmup", .map([("start", "1"), ("end", "5")]))],
            [
                "cfg.yaml:4:7: warning: pipelines[0].stages[0].renorm_warmup: \(Self.warmupWarning(missing: "rmax, rmin, dmax"))"
            ], built: true)
    }

    @Test func theReferenceCaseParametersBuildSilently() {
        expectIssues(
            [
                ("type", "batch_renorm"), ("convention", "tf_keras"), ("momentum", "0.95"), ("epsilon", "0.001"), ("center", "true"),
                ("scale", "true"), ("renorm", "true"), ("renorm_momentum", "0.8"), ("virtual_batch_size", "4"),
                ("renorm_clipping", .map([("rmax", "1.5"), ("rmin", "0.6666667"), ("dmax", "0.5")])),
            ], [])
    }
}
