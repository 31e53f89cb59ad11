import Foundation
import NormTesting
import Testing

/// `normd stages`: every built-in stage kind with its declared parameters, through the built binary.
@Suite struct StagesCommandTests {
    /// The whole JSON listing: a change to any declared key, default, range or doc shows here.
    static let expectedJSON = #"""
        {
          "stages" : [
            {
              "kind" : "min_max",
              "origin" : "builtin",
              "parameters" : [
                {
                  "default" : "sklearn",
                  "doc" : "the only convention: sklearn (the library it follows)",
                  "key" : "convention",
                  "type" : "word"
                },
                {
                  "default" : [
                    0,
                    1
                  ],
                  "doc" : "[low, high], low < high",
                  "key" : "feature_range",
                  "type" : "list of numbers"
                },
                {
                  "default" : false,
                  "doc" : "clip outputs to feature_range",
                  "key" : "clip",
                  "type" : "bool"
                }
              ],
              "summary" : "min-max scaling to feature_range (scikit-learn MinMaxScaler.partial_fit + transform)"
            },
            {
              "kind" : "standard_scale",
              "origin" : "builtin",
              "parameters" : [
                {
                  "default" : "sklearn",
                  "doc" : "the only convention: sklearn (the library it follows)",
                  "key" : "convention",
                  "type" : "word"
                },
                {
                  "default" : true,
                  "doc" : "subtract the running mean",
                  "key" : "with_mean",
                  "type" : "bool"
                },
                {
                  "default" : true,
                  "doc" : "divide by the running standard deviation (1 for a constant feature)",
                  "key" : "with_std",
                  "type" : "bool"
                }
              ],
              "summary" : "standardization to zero mean, unit variance (scikit-learn StandardScaler.partial_fit + transform)"
            },
            {
              "kind" : "batch_norm",
              "origin" : "builtin",
              "parameters" : [
                {
                  "default" : "keras",
                  "doc" : "whose names, defaults and update rules apply: keras | tf_keras (same) | torch",
                  "key" : "convention",
                  "type" : "word"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 0.99,
                  "doc" : "fraction of the moving statistics kept per batch",
                  "key" : "momentum",
                  "range" : "in [0, 1]",
                  "type" : "number"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : 0.1,
                  "doc" : "weight of the new batch; null = cumulative average",
                  "key" : "momentum",
                  "range" : "in [0, 1]",
                  "type" : "number"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 0.001,
                  "doc" : "added to the variance inside the square root",
                  "key" : "epsilon",
                  "range" : "> 0",
                  "type" : "number"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : 1e-05,
                  "doc" : "added to the variance inside the square root",
                  "key" : "eps",
                  "range" : "> 0",
                  "type" : "number"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : true,
                  "doc" : "apply beta",
                  "key" : "center",
                  "type" : "bool"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : true,
                  "doc" : "apply gamma",
                  "key" : "scale",
                  "type" : "bool"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : true,
                  "doc" : "apply gamma (torch weight) and beta (torch bias)",
                  "key" : "affine",
                  "type" : "bool"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : true,
                  "doc" : "false: batch statistics also in infer mode",
                  "key" : "track_running_stats",
                  "type" : "bool"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 1,
                  "doc" : "scale after normalizing, a number or one per selected feature",
                  "key" : "gamma",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 0,
                  "doc" : "shift after normalizing, a number or one per selected feature",
                  "key" : "beta",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : 1,
                  "doc" : "torch weight, a number or one per selected feature",
                  "key" : "gamma",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : 0,
                  "doc" : "torch bias, a number or one per selected feature",
                  "key" : "beta",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : 0,
                  "doc" : "initial running_mean, a number or one per selected feature; a restored checkpoint overrides it",
                  "key" : "running_mean_init",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "torch"
                  ],
                  "default" : 1,
                  "doc" : "initial running_var, a number or one per selected feature; a restored checkpoint overrides it",
                  "key" : "running_var_init",
                  "range" : ">= 0",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : null,
                  "doc" : "ghost batches (strided, as tf_keras); must divide batch.size",
                  "key" : "virtual_batch_size",
                  "range" : "> 0",
                  "type" : "integer"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 0,
                  "doc" : "initial moving_mean, a number or one per selected feature; a restored checkpoint overrides it",
                  "key" : "moving_mean_initializer",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 1,
                  "doc" : "initial moving_variance, a number or one per selected feature; a restored checkpoint overrides it",
                  "key" : "moving_variance_initializer",
                  "range" : ">= 0",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : false,
                  "doc" : "only false; renorm is the separate stage batch_renorm",
                  "key" : "renorm",
                  "type" : "bool"
                }
              ],
              "summary" : "batch normalization (convention: keras = tf_keras BatchNormalization incl. virtual_batch_size; torch = BatchNorm1d)"
            },
            {
              "kind" : "batch_renorm",
              "origin" : "builtin",
              "parameters" : [
                {
                  "default" : "keras",
                  "doc" : "keras | tf_keras (PyTorch has no batch renorm)",
                  "key" : "convention",
                  "type" : "word"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 0.99,
                  "doc" : "fraction of the moving statistics kept per batch",
                  "key" : "momentum",
                  "range" : "in [0, 1]",
                  "type" : "number"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 0.001,
                  "doc" : "added to the variance inside the square root",
                  "key" : "epsilon",
                  "range" : "> 0",
                  "type" : "number"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : true,
                  "doc" : "apply beta",
                  "key" : "center",
                  "type" : "bool"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : true,
                  "doc" : "apply gamma",
                  "key" : "scale",
                  "type" : "bool"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 1,
                  "doc" : "scale after normalizing, a number or one per selected feature",
                  "key" : "gamma",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : 0,
                  "doc" : "shift after normalizing, a number or one per selected feature",
                  "key" : "beta",
                  "type" : "number or list per feature"
                },
                {
                  "conventions" : [
                    "keras",
                    "tf_keras"
                  ],
                  "default" : null,
                  "doc" : "ghost batches (strided, as tf_keras); must divide batch.size",
                  "key" : "virtual_batch_size",
                  "range" : "> 0",
                  "type" : "integer"
                },
                {
                  "default" : 0.99,
                  "doc" : "fraction of the renorm statistics kept per batch",
                  "key" : "renorm_momentum",
                  "range" : "in [0, 1]",
                  "type" : "number"
                },
                {
                  "default" : true,
                  "doc" : "only true; false is plain batch_norm",
                  "key" : "renorm",
                  "type" : "bool"
                },
                {
                  "children" : [
                    {
                      "default" : null,
                      "doc" : "upper bound of the scale correction r",
                      "key" : "rmax",
                      "range" : "> 0",
                      "type" : "number"
                    },
                    {
                      "default" : null,
                      "doc" : "lower bound of r, <= rmax",
                      "key" : "rmin",
                      "range" : "> 0",
                      "type" : "number"
                    },
                    {
                      "default" : null,
                      "doc" : "bound of the shift correction |d|",
                      "key" : "dmax",
                      "range" : ">= 0",
                      "type" : "number"
                    }
                  ],
                  "default" : null,
                  "doc" : "bounds on r and d; a missing one is not applied",
                  "key" : "renorm_clipping",
                  "type" : "mapping"
                },
                {
                  "children" : [
                    {
                      "default" : 0,
                      "doc" : "train batch where relaxing starts",
                      "key" : "start",
                      "range" : ">= 0",
                      "type" : "integer"
                    },
                    {
                      "default" : null,
                      "doc" : "train batch where the full bounds apply (required, >= start)",
                      "key" : "end",
                      "type" : "integer"
                    }
                  ],
                  "default" : null,
                  "doc" : "relax the bounds linearly over train batches (the paper's schedule)",
                  "key" : "renorm_warmup",
                  "type" : "mapping"
                }
              ],
              "summary" : "batch renormalization (tf_keras BatchNormalization(renorm=True)), optional renorm_warmup schedule"
            }
          ]
        }
        """#

    @Test func jsonListsEveryBuiltinStageWithItsParameters() throws {
        let result = try Normd.run(["stages", "--format", "json"])
        #expect(result.status == 0)
        #expect(result.stderr == "")
        #expect(result.stdout == Self.expectedJSON + "\n")
    }

    @Test func textIsATablePerStage() throws {
        let result = try Normd.run(["stages"])
        #expect(result.status == 0)
        #expect(result.stderr == "")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(
            lines.filter { !$0.hasPrefix(" ") && !$0.isEmpty } == [
                "min_max (builtin): min-max scaling to feature_range (scikit-learn MinMaxScaler.partial_fit + transform)",
                "standard_scale (builtin): standardization to zero mean, unit variance (scikit-learn StandardScaler.partial_fit + transform)",
                "batch_norm (builtin): batch normalization (convention: keras = tf_keras BatchNormalization incl. virtual_batch_size; torch = BatchNorm1d)",
                "batch_renorm (builtin): batch renormalization (tf_keras BatchNormalization(renorm=True)), optional renorm_warmup schedule",
            ])
        #expect(lines.contains("  key                          type                        default  range      convention       doc"))
        #expect(
            lines.contains(
                "  momentum                     number                      0.99     in [0, 1]  keras, tf_keras  fraction of the moving statistics kept per batch"
            ))
        #expect(
            lines.contains(
                "  eps                          number                      1e-05    > 0        torch            added to the variance inside the square root"
            ))
        #expect(
            lines.contains(
                "  moving_variance_initializer  number or list per feature  1        >= 0       keras, tf_keras  "
                    + "initial moving_variance, a number or one per selected feature; a restored checkpoint overrides it"))
        #expect(lines.contains("  feature_range  list of numbers  [0, 1]          all         [low, high], low < high"))
        #expect(lines.contains("  renorm_clipping.rmin  number                      none     > 0        all              lower bound of r, <= rmax"))
        #expect(lines.contains("  with_std    bool  true            all         divide by the running standard deviation (1 for a constant feature)"))
        // 3 + 3 + 19 + 17 keys, a header and a title per stage, three blank separators, the final newline.
        #expect(lines.count == 42 + 8 + 3 + 1)
    }

    @Test func anUnknownFormatIsAUsageError() throws {
        let result = try Normd.run(["stages", "--format", "yaml"])
        #expect(result.status == 64)
        #expect(result.stdout == "")
    }

    @Test func aMissingConfigIsAConfigError() throws {
        let result = try Normd.run(["stages", "--config", "/nonexistent/normd.yaml"])
        #expect(result.status == 78)
        #expect(result.stdout == "")
        #expect(result.stderrLines == ["/nonexistent/normd.yaml: no such file", "/nonexistent/normd.yaml: 1 error"])
    }
}
