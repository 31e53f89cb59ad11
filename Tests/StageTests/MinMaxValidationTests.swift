import Testing

/// Every message `min_max` reports, asserted whole (file:line:column, key path, text).
@Suite struct MinMaxValidationTests {
    @Test func featureRangeMustBeIncreasing() {
        expectIssues(
            [("type", "min_max"), ("feature_range", "[1, 0]")],
            [
                "cfg.yaml:3:20: pipelines[0].stages[0].feature_range: must be [low, high] with low < high, got [1, 0]"
            ])
    }

    @Test func conventionRangeLengthAndUnknownKeys() {
        expectIssues(
            [("type", "min_max"), ("feature_range", "[0, 1, 2]"), ("convention", "torch"), ("clipp", "true")],
            [
                "cfg.yaml:4:17: pipelines[0].stages[0].convention: must be one of 'sklearn', got torch",
                "cfg.yaml:3:20: pipelines[0].stages[0].feature_range: must be [low, high] with low < high, got [0, 1, 2]",
                "cfg.yaml:5:5: pipelines[0].stages[0].clipp: unknown key 'clipp'; did you mean 'clip'?",
            ])
    }

    @Test func wrongTypes() {
        expectIssues(
            [("type", "min_max"), ("feature_range", "[0, x]"), ("clip", "yes")],
            [
                "cfg.yaml:3:24: pipelines[0].stages[0].feature_range[1]: expected a finite number, got a string x",
                "cfg.yaml:4:11: pipelines[0].stages[0].clip: expected true or false, got a string yes",
            ])
    }

    @Test func aValidConfigurationBuildsSilently() {
        expectIssues([("type", "min_max"), ("feature_range", "[-1, 1]"), ("clip", "true"), ("convention", "sklearn")], [])
        expectIssues([("type", "min_max"), ("feature_range", "null")], [])
    }
}
