import Testing

/// Every message `batch_norm` reports under both conventions, asserted whole.
@Suite struct BatchNormValidationTests {
    @Test func kerasRangesAndRenorm() {
        expectIssues(
            [("type", "batch_norm"), ("momentum", "1.5"), ("epsilon", "0"), ("renorm", "true")],
            [
                "cfg.yaml:3:15: pipelines[0].stages[0].momentum: must be in [0, 1], got 1.5",
                "cfg.yaml:4:14: pipelines[0].stages[0].epsilon: must be > 0, got 0",
                "cfg.yaml:5:13: pipelines[0].stages[0].renorm: renorm is a separate stage: use 'type: batch_renorm'",
            ])
    }

    @Test func kerasGammaAndBetaNeedScaleAndCenter() {
        expectIssues(
            [("type", "batch_norm"), ("scale", "false"), ("gamma", "2"), ("center", "false"), ("beta", "[1, 2, 3]")],
            [
                "cfg.yaml:4:12: pipelines[0].stages[0].gamma: is given but scale is false (no gamma is applied); remove it or set scale: true",
                "cfg.yaml:6:11: pipelines[0].stages[0].beta: is given but center is false (no beta is applied); remove it or set center: true",
            ])
    }

    @Test func kerasVirtualBatchSizeMustDivideTheBatchSize() {
        expectIssues(
            [("type", "batch_norm"), ("virtual_batch_size", "4")],
            [
                "cfg.yaml:3:25: pipelines[0].stages[0].virtual_batch_size: batch.size (250) must be a multiple of virtual_batch_size (4)"
            ], batchSize: 250)
        expectIssues([("type", "batch_norm"), ("virtual_batch_size", "4")], [])
    }

    @Test func kerasVirtualBatchSizeAndGammaLength() {
        expectIssues(
            [("type", "batch_norm"), ("virtual_batch_size", "0"), ("gamma", "[1, 2]")],
            [
                "cfg.yaml:4:12: pipelines[0].stages[0].gamma: expected one value per feature (3), got a list of 2",
                "cfg.yaml:3:25: pipelines[0].stages[0].virtual_batch_size: must be > 0, got 0",
            ])
    }

    @Test func kerasLowMomentumWarnsButBuilds() {
        expectIssues(
            [("type", "batch_norm"), ("momentum", "0.1"), ("renorm", "false"), ("convention", "tf_keras")],
            [
                "cfg.yaml:3:15: warning: pipelines[0].stages[0].momentum: momentum 0.1 keeps only 10% of the moving statistics per batch; "
                    + "Keras' momentum is the fraction kept (0.99 typical) — did you mean PyTorch's convention (convention: torch)?"
            ], built: true)
    }

    @Test func unknownConventionAndTorchNamesUnderKeras() {
        expectIssues(
            [("type", "batch_norm"), ("convention", "pytorch"), ("eps", "1e-5")],
            [
                "cfg.yaml:3:17: pipelines[0].stages[0].convention: must be one of 'keras', 'tf_keras', 'torch', got pytorch; did you mean 'torch'?",
                "cfg.yaml:4:5: pipelines[0].stages[0].eps: unknown key 'eps'; did you mean 'epsilon'? (convention: keras uses tf_keras' names)",
            ])
    }

    @Test func kerasOnlyKeysAreUnknownUnderTorch() {
        let known =
            "expected one of: type, columns, convention, momentum, eps, affine, track_running_stats, gamma, beta, running_mean_init, running_var_init (convention: torch uses PyTorch's names)"
        expectIssues(
            [("type", "batch_norm"), ("convention", "torch"), ("epsilon", "1e-3"), ("center", "false"), ("virtual_batch_size", "4")],
            [
                "cfg.yaml:4:5: pipelines[0].stages[0].epsilon: unknown key 'epsilon'; did you mean 'eps'? (convention: torch uses PyTorch's names)",
                "cfg.yaml:5:5: pipelines[0].stages[0].center: unknown key 'center'; did you mean 'affine'? (convention: torch uses PyTorch's names)",
                "cfg.yaml:6:5: pipelines[0].stages[0].virtual_batch_size: unknown key 'virtual_batch_size'; \(known)",
            ])
    }

    @Test func torchEpsAndAffine() {
        expectIssues(
            [("type", "batch_norm"), ("convention", "torch"), ("momentum", "null"), ("eps", "-1"), ("affine", "false"), ("gamma", "[1, 2, 3]")],
            [
                "cfg.yaml:5:10: pipelines[0].stages[0].eps: must be > 0, got -1",
                "cfg.yaml:7:12: pipelines[0].stages[0].gamma: is given but affine is false (no gamma is applied); remove it or set affine: true",
            ])
    }

    @Test func torchMomentumRangeAndKerasLookingMomentum() {
        expectIssues(
            [("type", "batch_norm"), ("convention", "torch"), ("momentum", "-0.1")],
            [
                "cfg.yaml:4:15: pipelines[0].stages[0].momentum: must be in [0, 1], got -0.1"
            ])
        expectIssues(
            [("type", "batch_norm"), ("convention", "torch"), ("momentum", "0.9"), ("track_running_stats", "false")],
            [
                "cfg.yaml:4:15: warning: pipelines[0].stages[0].momentum: momentum 0.9 replaces 90% of the running statistics per batch; "
                    + "PyTorch's momentum is the weight of the new batch (0.1 typical) — did you mean Keras' convention (convention: keras)?"
            ], built: true)
    }

    @Test func torchNullMomentumIsTheCumulativeAverage() {
        expectIssues([("type", "batch_norm"), ("convention", "torch"), ("momentum", "null"), ("gamma", "2"), ("beta", "[0, 1, 2]")], [])
    }
}
