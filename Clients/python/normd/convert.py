"""One call from normd's saved statistics to a framework's object, for serving.

Each converter takes a :class:`normd.state.StageState` (``normd.state.load(path)["sensors"].stages[1]``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from .state import StageState

__all__ = ["ConversionError", "to_torch_state_dict", "to_keras_weights", "to_sklearn"]


class ConversionError(ValueError):
    """The stage cannot be converted as asked (wrong kind, or the file lacks what is needed)."""


def _statistic(stage: StageState, name: str) -> np.ndarray:
    if name not in stage.statistics:
        raise ConversionError("stage %d (%s) has no statistic %r (it has %s)"
                              % (stage.index, stage.kind, name, sorted(stage.statistics)))
    return stage.statistics[name]


def _param(stage: StageState, name: str) -> Any:
    if name not in stage.params:
        raise ConversionError("stage %d (%s) records no parameter %r: a format-1 state file or an .npz export "
                              "has no params; load a format-2 file (normd writes one at its next save)"
                              % (stage.index, stage.kind, name))
    return stage.params[name]


def _keras_like(stage: StageState) -> bool:
    if stage.kind == "batch_renorm":
        return True
    if stage.kind != "batch_norm":
        raise ConversionError("stage %d is %s, not batch_norm or batch_renorm" % (stage.index, stage.kind))
    return stage.convention != "torch"


def to_torch_state_dict(stage: StageState, *, n: Optional[int] = None, variance: Optional[str] = None,
                        tensors: bool = True) -> Dict[str, Any]:
    """The state dict ``torch.nn.BatchNorm1d.load_state_dict`` expects.

    Parameters
    ----------
    stage : StageState
        A ``batch_norm`` (torch or tf_keras convention) or ``batch_renorm`` stage.
    n : int, optional
        tf_keras stages only: the batch size the statistics were accumulated with, to turn Keras'
        biased ``moving_variance`` into the unbiased ``running_var`` PyTorch keeps:
        ``running_var = moving_variance * n / (n - 1)`` (what PyTorch would have accumulated; for
        continuing training in PyTorch).
    variance : {"biased"}, optional
        tf_keras stages only, instead of ``n``: copy ``moving_variance`` unchanged, so ``eval()``
        gives exactly normd's infer output (``running_var`` then holds a biased variance).
    tensors : bool
        Return ``torch.Tensor`` values (needs torch); ``False`` returns NumPy arrays of the same
        dtypes (float32 vectors, an int64 scalar ``num_batches_tracked``).

    Returns
    -------
    dict
        ``running_mean``, ``running_var`` (float32), ``num_batches_tracked`` (int64) when the stage
        tracks running statistics, plus ``weight`` (gamma) and ``bias`` (beta) when affine. Build the
        module with the same ``eps`` (``stage.params["eps"]``, or ``"epsilon"`` for tf_keras) and
        ``affine`` (``"weight" in result``).

    Notes
    -----
    For a torch-convention stage ``running_var`` is already PyTorch's unbiased variance and is
    loaded unchanged. A tf_keras stage stores the biased variance and not the batch size, so its
    conversion is refused unless ``n`` or ``variance="biased"`` says which variance to give.
    """
    result: Dict[str, np.ndarray] = {}
    if _keras_like(stage):
        center, scale = bool(_param(stage, "center")), bool(_param(stage, "scale"))
        if center or scale:
            result["weight"] = np.asarray(_param(stage, "gamma"), dtype=np.float32)
            result["bias"] = np.asarray(_param(stage, "beta"), dtype=np.float32)
        moving_variance = _statistic(stage, "moving_variance")
        if n is not None:
            if int(n) < 2:
                raise ConversionError("n must be >= 2 to unbias a variance, got %r" % (n,))
            running_var = moving_variance * (int(n) / (int(n) - 1))
        elif variance == "biased":
            running_var = moving_variance
        else:
            raise ConversionError(
                "stage %d (%s, tf_keras convention) keeps the biased moving_variance; PyTorch's running_var "
                "is unbiased, and the state file does not record the batch size needed to convert it. Pass "
                "n=<batch size> (running_var = moving_variance*n/(n-1), for training on) or "
                "variance='biased' (copied unchanged: eval() then matches normd's infer output)"
                % (stage.index, stage.kind))
        result["running_mean"] = _statistic(stage, "moving_mean").astype(np.float32)
        result["running_var"] = np.asarray(running_var, dtype=np.float32)
        result["num_batches_tracked"] = np.asarray(stage.counters.get("train_batches", 0), dtype=np.int64)
    else:
        if bool(_param(stage, "affine")):
            result["weight"] = np.asarray(_param(stage, "gamma"), dtype=np.float32)
            result["bias"] = np.asarray(_param(stage, "beta"), dtype=np.float32)
        if bool(_param(stage, "track_running_stats")):
            result["running_mean"] = _statistic(stage, "running_mean").astype(np.float32)
            result["running_var"] = _statistic(stage, "running_var").astype(np.float32)
            result["num_batches_tracked"] = np.asarray(stage.counters.get("num_batches_tracked", 0), dtype=np.int64)
    if not tensors:
        return dict(result)
    import torch  # optional dependency: pip install 'normd-client[torch]'

    return {key: torch.from_numpy(np.array(value)) for key, value in result.items()}


def to_keras_weights(stage: StageState) -> List[np.ndarray]:
    """The list ``tf.keras.layers.BatchNormalization.set_weights`` expects (tf_keras / Keras 2).

    The order is the layer's weight order: ``gamma`` (only when ``scale=True``), ``beta`` (only
    when ``center=True``), ``moving_mean``, ``moving_variance``, and with ``renorm=True``
    ``moving_stddev``, ``renorm_mean``, ``renorm_stddev``. Every array is float32 of shape
    ``(features,)``, or ``(1, 1, features)`` when the layer has a ``virtual_batch_size`` (as tf_keras
    shapes them then).

    Parameters
    ----------
    stage : StageState
        A tf_keras-convention ``batch_norm`` or a ``batch_renorm`` stage.

    Returns
    -------
    list of numpy.ndarray
    """
    if not _keras_like(stage):
        raise ConversionError("stage %d is a torch-convention batch_norm: its running_var is unbiased and "
                              "tf_keras keeps the biased variance; use to_torch_state_dict" % stage.index)
    names = ["moving_mean", "moving_variance"]
    if stage.kind == "batch_renorm":
        names += ["moving_stddev", "renorm_mean", "renorm_stddev"]
    weights = []
    if bool(_param(stage, "scale")):
        weights.append(np.asarray(_param(stage, "gamma"), dtype=np.float32))
    if bool(_param(stage, "center")):
        weights.append(np.asarray(_param(stage, "beta"), dtype=np.float32))
    weights += [_statistic(stage, name).astype(np.float32) for name in names]
    if stage.params.get("virtual_batch_size") is not None:
        weights = [w.reshape(1, 1, -1) for w in weights]
    return weights


def to_sklearn(stage: StageState) -> Any:
    """A fitted scikit-learn scaler that transforms exactly as the stage does.

    Parameters
    ----------
    stage : StageState
        A ``min_max`` or a ``standard_scale`` stage.

    Returns
    -------
    sklearn.preprocessing.MinMaxScaler
        For ``min_max``: with ``feature_range``, ``clip``, ``data_min_``, ``data_max_``, ``data_range_``,
        ``scale_``, ``min_``, ``n_samples_seen_`` and ``n_features_in_`` set from the file, so
        ``transform(X[:, stage.columns])`` gives normd's numbers for those columns
        (``scale_``/``min_`` are float64, as normd keeps them).
    sklearn.preprocessing.StandardScaler
        For ``standard_scale``: with ``with_mean``, ``with_std``, ``mean_``, ``var_``, ``scale_``,
        ``n_samples_seen_`` and ``n_features_in_`` set from the file — ``None`` where scikit-learn
        leaves them ``None`` (``var_``/``scale_`` without ``with_std``, ``mean_`` too when both are
        off) — so ``transform`` gives normd's numbers and ``partial_fit`` continues where normd stopped.
        A stage that has seen no train row has ``n_samples_seen_ == 0`` and no statistics: the
        scaler is then unfitted (scikit-learn raises ``NotFittedError``; normd passes data through).
    """
    if stage.kind == "standard_scale":
        return _standard_scaler(stage)
    if stage.kind != "min_max":
        raise ConversionError("stage %d is %s; to_sklearn converts min_max and standard_scale stages"
                              % (stage.index, stage.kind))
    from sklearn.preprocessing import MinMaxScaler  # scikit-learn is needed only for this converter

    low, high = (float(v) for v in _param(stage, "feature_range"))
    scaler = MinMaxScaler(feature_range=(low, high), clip=bool(_param(stage, "clip")))
    for name in ("data_min", "data_max", "data_range", "scale", "min"):
        setattr(scaler, name + "_", _statistic(stage, name).copy())
    scaler.n_samples_seen_ = int(stage.counters.get("n_samples_seen", 0))
    scaler.n_features_in_ = int(scaler.scale_.shape[0])
    return scaler


def _standard_scaler(stage: StageState) -> Any:
    from sklearn.preprocessing import StandardScaler  # scikit-learn is needed only for this converter

    with_mean, with_std = bool(_param(stage, "with_mean")), bool(_param(stage, "with_std"))
    scaler = StandardScaler(with_mean=with_mean, with_std=with_std)
    seen = int(stage.counters.get("n_samples_seen", 0))
    if seen == 0:
        return scaler  # unfitted, as sklearn's own scaler before partial_fit
    scaler.mean_ = _statistic(stage, "mean").copy() if (with_mean or with_std) else None
    scaler.var_ = _statistic(stage, "var").copy() if with_std else None
    scaler.scale_ = _statistic(stage, "scale").copy() if with_std else None
    scaler.n_samples_seen_ = np.int64(seen)  # what partial_fit sets (and expects to continue from)
    # The width: the statistics', or (both options off: none kept) the fingerprint's, or the columns'.
    width = (scaler.mean_.shape[0] if scaler.mean_ is not None
             else stage.fingerprint.get("featureCount", len(stage.columns or [])))
    scaler.n_features_in_ = int(width)
    return scaler
