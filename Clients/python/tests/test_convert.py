"""Converters checked against the real scikit-learn, the daemon's output, and the framework-named numbers
of ../shared/reference/cases (produced by the real torch and tf_keras)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import normd
from conftest import CASES, apply, pipeline_yaml


def close(got, want, what):
    """The reference tolerance for statistics (README, "Numbers"): 1e-6 + 1e-5·|s|."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, "%s: shape %s, expected %s" % (what, got.shape, want.shape)
    assert np.all(np.abs(got - want) <= 1e-6 + 1e-5 * np.abs(want)), "%s: %s != %s" % (what, got, want)


# ---- scikit-learn -------------------------------------------------------------------------------

def test_to_sklearn_gives_a_fitted_scaler_that_transforms_as_the_daemon(tmp_path):
    config = tmp_path / "normd.yaml"
    config.write_text(pipeline_yaml(features=4, stages="      - {type: min_max, feature_range: [-1, 2]}\n"))
    rng = np.random.default_rng(11)
    batches = [rng.normal(10, 3, size=(16, 4)).astype(np.float32) for _ in range(3)]
    for b in batches:
        b[:, 2] = 7.0  # a constant column: range 0, scale 1
    state = tmp_path / "state.json"
    reference = MinMaxScaler(feature_range=(-1, 2))
    for index, batch in enumerate(batches):
        out = apply(config, batch, tmp_path, batch_size=16, state=state)
        reference.partial_fit(batch)
        # The daemon's min-max output equals scaler.transform after the same partial_fit calls.
        np.testing.assert_allclose(out, reference.transform(batch), rtol=1e-5, atol=1e-6, err_msg="batch %d" % index)

    scaler = normd.to_sklearn(normd.state.load(state)["p"].stage("min_max"))
    assert isinstance(scaler, MinMaxScaler) and scaler.feature_range == (-1.0, 2.0) and scaler.clip is False
    assert scaler.n_samples_seen_ == reference.n_samples_seen_ == 48 and scaler.n_features_in_ == 4
    for name in ("data_min_", "data_max_", "data_range_", "scale_", "min_"):
        np.testing.assert_allclose(getattr(scaler, name), getattr(reference, name), rtol=1e-6, atol=1e-6, err_msg=name)
    served = rng.normal(10, 4, size=(20, 4)).astype(np.float32)
    daemon_infer = apply(config, served, tmp_path, batch_size=20, mode="infer", state=state)
    np.testing.assert_allclose(scaler.transform(served), daemon_infer, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(scaler.inverse_transform(daemon_infer), served, rtol=1e-5, atol=1e-4)


def test_to_sklearn_refuses_other_stages(tmp_path):
    config = tmp_path / "normd.yaml"
    config.write_text(pipeline_yaml(features=2))
    state = tmp_path / "state.json"
    apply(config, np.random.default_rng(0).normal(size=(8, 2)), tmp_path, batch_size=8, state=state)
    with pytest.raises(normd.ConversionError, match="stage 1 is batch_norm; to_sklearn converts min_max and standard_scale stages"):
        normd.to_sklearn(normd.state.load(state)["p"].stage(1))


@pytest.mark.parametrize("with_mean, with_std", [(True, True), (False, True), (True, False), (False, False)])
def test_to_sklearn_gives_a_fitted_standard_scaler_that_transforms_and_continues_as_the_daemon(tmp_path, with_mean, with_std):
    config = tmp_path / "normd.yaml"
    options = "with_mean: %s, with_std: %s" % (str(with_mean).lower(), str(with_std).lower())
    config.write_text(pipeline_yaml(features=5, stages="      - {type: standard_scale, %s, columns: [0, 2, 3]}\n" % options))
    rng = np.random.default_rng(16)
    batches = [rng.normal(100, 7, size=(n, 5)).astype(np.float32) for n in (16, 9, 12)]
    for b in batches:
        b[:, 3] = 2.5  # a constant column: var 0, scale 1
    state = tmp_path / "state.json"
    reference = StandardScaler(with_mean=with_mean, with_std=with_std)
    for index, batch in enumerate(batches):
        out = apply(config, batch, tmp_path, batch_size=len(batch), state=state)
        reference.partial_fit(batch[:, [0, 2, 3]])
        # The daemon's output equals scaler.transform after the same partial_fit calls; columns 1 and 4 pass through.
        np.testing.assert_allclose(out[:, [0, 2, 3]], reference.transform(batch[:, [0, 2, 3]]), rtol=1e-5, atol=1e-4,
                                   err_msg="batch %d" % index)
        np.testing.assert_array_equal(out[:, [1, 4]], batch[:, [1, 4]])

    scaler = normd.to_sklearn(normd.state.load(state)["p"].stage("standard_scale"))
    assert isinstance(scaler, StandardScaler) and (scaler.with_mean, scaler.with_std) == (with_mean, with_std)
    assert scaler.n_samples_seen_ == reference.n_samples_seen_ == 37 and scaler.n_features_in_ == 3
    for name in ("mean_", "var_", "scale_"):
        if getattr(reference, name) is None:
            assert getattr(scaler, name) is None, name
        else:
            np.testing.assert_allclose(getattr(scaler, name), getattr(reference, name), rtol=1e-9, atol=1e-12, err_msg=name)
    served = rng.normal(100, 9, size=(20, 5)).astype(np.float32)
    daemon_infer = apply(config, served, tmp_path, batch_size=20, mode="infer", state=state)
    np.testing.assert_allclose(scaler.transform(served[:, [0, 2, 3]]), daemon_infer[:, [0, 2, 3]], rtol=1e-5, atol=1e-4)
    # partial_fit continues from normd's statistics exactly as from sklearn's own.
    more = rng.normal(100, 7, size=(10, 3)).astype(np.float32)
    scaler.partial_fit(more)
    reference.partial_fit(more)
    assert scaler.n_samples_seen_ == 47
    if with_mean or with_std:
        np.testing.assert_allclose(scaler.mean_, reference.mean_, rtol=1e-9)


def test_to_sklearn_of_an_untrained_standard_scale_is_an_unfitted_scaler(tmp_path):
    config = tmp_path / "normd.yaml"
    config.write_text(pipeline_yaml(features=2, stages="      - {type: standard_scale}\n"))
    state = tmp_path / "state.json"
    # One row is below batch.min_rows (2): the train batch runs as infer and fits nothing.
    apply(config, np.ones((1, 2), dtype=np.float32), tmp_path, batch_size=1, state=state)
    scaler = normd.to_sklearn(normd.state.load(state)["p"].stage(0))
    assert not hasattr(scaler, "n_samples_seen_") and not hasattr(scaler, "mean_")


# ---- reference cases (torch, tf_keras) --------------------------------------------------------------

def case_names(prefix):
    return sorted(p.stem for p in CASES.glob(prefix + "*.json"))


def test_the_reference_cases_are_there():
    assert len(case_names("torch_")) == 3 and len(case_names("tfk_")) == 6, CASES


def replay(name, tmp_path):
    """Runs a reference case through ``normd apply`` step by step; returns (case, config, final stage)."""
    case = json.loads((CASES / (name + ".json")).read_text())
    stage = case["stage"]
    tmp_path = tmp_path / name
    tmp_path.mkdir()
    lines = ["pipelines:", "  - name: p", "    features: %d" % case["n_features"], "    batch: {size: 16, min_rows: 2}",
             "    stages:", "      - type: " + stage["type"], "        convention: " + stage["convention"]]
    lines += ["        %s: %s" % (k, json.dumps(v)) for k, v in sorted(stage["params"].items())]
    lines += ["        %s: %s" % (k, json.dumps(case[k])) for k in ("gamma", "beta") if case[k] is not None]
    config = tmp_path / "normd.yaml"
    config.write_text("\n".join(lines) + "\n")
    state = tmp_path / "state.json"
    for step in case["steps"]:
        rows = np.array(step["input"], dtype=np.float32)
        apply(config, rows, tmp_path, batch_size=len(rows), mode=step["mode"], state=state)
    return case, config, state, normd.state.load(state)["p"].stages[0]


@pytest.mark.parametrize("name", case_names("torch_"))
def test_to_torch_state_dict_matches_pytorchs_numbers(name, tmp_path):
    case, _, _, stage = replay(name, tmp_path)
    params, final = case["stage"]["params"], case["steps"][-1]["state_after"]
    got = normd.to_torch_state_dict(stage, tensors=False)
    expected_keys = (["weight", "bias"] if params["affine"] else []) + \
        (["running_mean", "running_var", "num_batches_tracked"] if params["track_running_stats"] else [])
    assert sorted(got) == sorted(expected_keys)
    for key in ("running_mean", "running_var"):
        if key in got:
            assert got[key].dtype == np.float32
            close(got[key], final[key], key)
    if "num_batches_tracked" in got:
        assert got["num_batches_tracked"].dtype == np.int64 and int(got["num_batches_tracked"]) == final["num_batches_tracked"]
    if params["affine"]:
        np.testing.assert_array_equal(got["weight"], np.float32(case["gamma"]))
        np.testing.assert_array_equal(got["bias"], np.float32(case["beta"]))


@pytest.mark.parametrize("name", case_names("tfk_"))
def test_to_keras_weights_matches_tf_keras_numbers_in_set_weights_order(name, tmp_path):
    case, _, _, stage = replay(name, tmp_path)
    params, final = case["stage"]["params"], case["steps"][-1]["state_after"]
    weights = normd.to_keras_weights(stage)
    names = ["moving_mean", "moving_variance"] + (["moving_stddev", "renorm_mean", "renorm_stddev"] if params.get("renorm") else [])
    expected = ([case["gamma"]] if params["scale"] else []) + ([case["beta"]] if params["center"] else []) + [final[n] for n in names]
    assert len(weights) == len(expected)
    shape = (1, 1, case["n_features"]) if params.get("virtual_batch_size") else (case["n_features"],)
    for index, (got, want) in enumerate(zip(weights, expected)):
        assert got.dtype == np.float32 and got.shape == shape, (index, got.dtype, got.shape)
        close(got.reshape(-1), want, "weights[%d]" % index)


def test_a_keras_stage_into_torch_needs_n_or_an_explicit_biased_variance(tmp_path):
    case, _, _, stage = replay("tfk_bn_m0.9_eps1e-3", tmp_path)
    with pytest.raises(normd.ConversionError, match="keeps the biased moving_variance; PyTorch's running_var is unbiased"):
        normd.to_torch_state_dict(stage, tensors=False)
    final = case["steps"][-1]["state_after"]
    biased = normd.to_torch_state_dict(stage, variance="biased", tensors=False)
    close(biased["running_var"], final["moving_variance"], "biased")
    unbiased = normd.to_torch_state_dict(stage, n=16, tensors=False)
    close(unbiased["running_var"], np.array(final["moving_variance"]) * 16 / 15, "unbiased")
    close(unbiased["running_mean"], final["moving_mean"], "mean")
    torch_stage = replay("torch_bn1d_m0.1", tmp_path)[3]
    with pytest.raises(normd.ConversionError, match="use to_torch_state_dict"):
        normd.to_keras_weights(torch_stage)


def first_rows_in_infer_mode(case, config, state):
    """The case's first input rows and what ``normd apply --mode infer`` makes of them with the final state."""
    rows = np.array(case["steps"][0]["input"], dtype=np.float32)
    return rows, apply(config, rows, config.parent, batch_size=len(rows), mode="infer", state=state)


@pytest.mark.parametrize("name", ["torch_bn1d_m0.1", "torch_bn1d_cumulative"])
def test_the_batchnorm1d_eval_formula_on_the_converted_state_gives_normds_infer_output(name, tmp_path):
    # What BatchNorm1d.eval() computes, y = (x - running_mean) / sqrt(running_var + eps) * weight + bias,
    # on the converted state dict: runs without torch (the test below uses the real module when installed).
    case, config, state, stage = replay(name, tmp_path)
    sd = normd.to_torch_state_dict(stage, tensors=False)
    rows, expected = first_rows_in_infer_mode(case, config, state)
    served = (rows - sd["running_mean"]) / np.sqrt(sd["running_var"] + np.float32(case["stage"]["params"]["eps"])) \
        * sd["weight"] + sd["bias"]
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", ["tfk_bn_m0.9_eps1e-3", "tfk_bn_virtual_batch_4"])
def test_the_keras_inference_formula_on_the_converted_weights_gives_normds_infer_output(name, tmp_path):
    # tf_keras BatchNormalization(training=False): (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta.
    case, config, state, stage = replay(name, tmp_path)
    gamma, beta, mean, variance = (w.reshape(-1) for w in normd.to_keras_weights(stage))
    rows, expected = first_rows_in_infer_mode(case, config, state)
    served = (rows - mean) / np.sqrt(variance + np.float32(case["stage"]["params"]["epsilon"])) * gamma + beta
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-4)


# ---- with the real frameworks, when installed (they are not in CI: gigabytes) -------------------------


@pytest.mark.parametrize("name", case_names("torch_"))
def test_pytorch_eval_of_the_loaded_state_dict_gives_normds_infer_output(name, tmp_path):
    torch = pytest.importorskip("torch")
    case, config, state, stage = replay(name, tmp_path)
    params = case["stage"]["params"]
    if not params["track_running_stats"]:
        pytest.skip("no running statistics: eval() normalizes with the batch's own")
    module = torch.nn.BatchNorm1d(case["n_features"], eps=params["eps"], momentum=params["momentum"],
                                  affine=params["affine"], track_running_stats=True)
    module.load_state_dict(normd.to_torch_state_dict(stage))
    rows, expected = first_rows_in_infer_mode(case, config, state)
    with torch.no_grad():
        served = module.eval()(torch.from_numpy(rows)).numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", case_names("tfk_bn"))
def test_tf_keras_set_weights_gives_normds_infer_output(name, tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    case, config, state, stage = replay(name, tmp_path)
    params = case["stage"]["params"]
    layer = tf_keras.layers.BatchNormalization(momentum=params["momentum"], epsilon=params["epsilon"], center=params["center"],
                                               scale=params["scale"], virtual_batch_size=params.get("virtual_batch_size"))
    layer.build((None, case["n_features"]))
    layer.set_weights(normd.to_keras_weights(stage))
    rows, expected = first_rows_in_infer_mode(case, config, state)
    np.testing.assert_allclose(layer(rows, training=False).numpy(), expected, rtol=1e-5, atol=1e-4)
