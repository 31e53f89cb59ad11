import NormTesting
import StageKit
import Testing

/// Representative configurations of every stage and convention, for properties that hold for all.
struct StageConfig: CustomTestStringConvertible, Sendable {
    var name: String
    var parameters: [(String, ConfigNode)]
    var testDescription: String { name }

    static let all: [StageConfig] = [
        StageConfig(name: "min_max", parameters: [("type", .text("min_max"))]),
        StageConfig(
            name: "min_max clip [-1, 1]",
            parameters: [
                ("type", .text("min_max")), ("feature_range", .numbers([-1, 1])), ("clip", .flag(true)),
            ]),
        StageConfig(name: "standard_scale", parameters: [("type", .text("standard_scale"))]),
        StageConfig(
            name: "standard_scale without mean",
            parameters: [
                ("type", .text("standard_scale")), ("with_mean", .flag(false)),
            ]),
        StageConfig(
            name: "standard_scale without std",
            parameters: [
                ("type", .text("standard_scale")), ("with_std", .flag(false)),
            ]),
        StageConfig(
            name: "batch_norm keras",
            parameters: [
                ("type", .text("batch_norm")), ("momentum", .number(0.9)), ("gamma", .numbers([1, 2, 0.5, 3])), ("beta", .number(0.25)),
            ]),
        StageConfig(
            name: "batch_norm keras ghost 4",
            parameters: [
                ("type", .text("batch_norm")), ("virtual_batch_size", .integer(4)),
            ]),
        StageConfig(
            name: "batch_norm torch",
            parameters: [
                ("type", .text("batch_norm")), ("convention", .text("torch")), ("gamma", .number(2)), ("beta", .number(1)),
            ]),
        StageConfig(
            name: "batch_norm torch cumulative",
            parameters: [
                ("type", .text("batch_norm")), ("convention", .text("torch")), ("momentum", ConfigNode(.null)),
            ]),
        StageConfig(
            name: "batch_norm torch no running stats",
            parameters: [
                ("type", .text("batch_norm")), ("convention", .text("torch")), ("track_running_stats", .flag(false)),
            ]),
        StageConfig(
            name: "batch_renorm",
            parameters: [
                ("type", .text("batch_renorm")), ("momentum", .number(0.9)),
                ("renorm_clipping", JSONConfig.map([("rmax", .number(2)), ("rmin", .number(0.5)), ("dmax", .number(1))])),
            ]),
        StageConfig(
            name: "batch_renorm ghost 4 warm-up",
            parameters: [
                ("type", .text("batch_renorm")), ("virtual_batch_size", .integer(4)),
                ("renorm_clipping", JSONConfig.map([("rmax", .number(3)), ("rmin", .number(0.25)), ("dmax", .number(5))])),
                ("renorm_warmup", JSONConfig.map([("start", .integer(1)), ("end", .integer(3))])),
            ]),
    ]
}
