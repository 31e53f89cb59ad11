"""Writes Tests/ReferenceCases/*.json: normd's standard_scale stage run by the REAL scikit-learn.

Each case is a seeded sequence of batches through ``sklearn.preprocessing.StandardScaler``:
``train`` = ``partial_fit(x)`` then ``transform(x)`` on the same batch, ``infer`` = ``transform(x)``
only, with the scaler's fitted attributes after every step. The layout is the one of the shared
reference cases (../shared/reference/README.md), plus one optional key:

* ``columns``: normd's ``columns:`` selector of the stage (a list of indices / python slices). The
  scaler sees only those columns; ``input``/``output`` are whole rows, the other columns pass
  through unchanged, and ``state_after`` describes the selected columns.

``state_after`` holds the attributes sklearn sets (``mean``, ``var``, ``scale`` — float64 in
sklearn, written as float64 — and the integer ``n_samples_seen``), omitting those sklearn leaves
``None`` (``var``/``scale`` without ``with_std``, ``mean`` too when both options are off).

Before writing, every case is re-computed with an independent float64 model (np.mean/np.var over
every train row so far, no incremental formula) and the script refuses to write a case sklearn
disagrees with. Run it through Scripts/make_reference_cases.sh, which makes the venv that
pip-installs scikit-learn (Scripts/requirements.txt).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.preprocessing import StandardScaler

OUT = Path(__file__).resolve().parent.parent / "Tests" / "ReferenceCases"


def f32(rows):
    """Rows as float64 reprs of float32 values (Float(Double(text)) is the exact float32)."""
    return [[float(np.float32(v)) for v in row] for row in np.asarray(rows, dtype=np.float32)]


def features(rng, n, drift, big_center):
    """Five columns on very different scales, as the shared batch-norm cases use."""
    big = big_center * (1 + drift + rng.normal(0, 0.03, n))  # ~big_center, drifting between batches
    small = rng.normal(1.0e-3, 2.0e-4, n)                  # ~1e-3
    constant = np.full(n, 0.7)                             # zero variance: scale 1
    outliers = rng.normal(0, 1, n)
    outliers[rng.random(n) < 0.15] *= 40                   # heavy tails
    # Two values 6e-7 apart, near 0: sklearn subtracts a float32-rounded mean (transform casts mean_
    # to the data's dtype), which near 3e-3 would be off by ~1e-3 of the spread; near 0 it is exact
    # enough, so the case measures the semantics, not float32 cancellation.
    tiny = rng.integers(0, 2, n) * 6.0e-7
    return np.stack([big, small, constant, outliers, tiny], axis=1).astype(np.float32)


def selected(columns, width):
    """normd's selector (indices and python slices) → column indices, in selector order."""
    picked = []
    for item in columns:
        if isinstance(item, int):
            picked.append(item % width)
        else:
            start, stop = (int(p) if p else None for p in item.split(":"))
            picked.extend(range(width)[slice(start, stop)])
    return picked


def fitted(scaler):
    state = {"n_samples_seen": int(scaler.n_samples_seen_)}
    for name in ("mean", "var", "scale"):
        value = getattr(scaler, name + "_")
        if value is not None:
            state[name] = [float(v) for v in np.asarray(value, dtype=np.float64)]
    return state


def check(case_name, params, seen, state, x, y):
    """Independent float64 model: moments over all train rows so far; refuses on disagreement."""
    if not seen:
        return
    rows = np.concatenate(seen).astype(np.float64)
    mean, var = rows.mean(axis=0), rows.var(axis=0)
    scale = np.where(var <= len(rows) * np.finfo(np.float64).eps * var + (len(rows) * mean * np.finfo(np.float64).eps) ** 2,
                     1.0, np.sqrt(var))
    if params["with_std"]:
        assert np.allclose(state["var"], var, rtol=1e-9, atol=1e-12), case_name + ": var"
        assert np.allclose(state["scale"], scale, rtol=1e-9, atol=1e-12), case_name + ": scale"
    if params["with_mean"] or params["with_std"]:
        assert np.allclose(state["mean"], mean, rtol=1e-12, atol=1e-15), case_name + ": mean"
    expected = x.astype(np.float64)
    if params["with_mean"]:
        expected = expected - mean
    if params["with_std"]:
        expected = expected / scale
    # Half the replay tests' output tolerance (1e-4 + 1e-5·|y|): sklearn's transform subtracts mean_
    # rounded to float32 and divides in float32.
    bad = np.abs(expected - y) > 0.5 * (1e-4 + 1e-5 * np.abs(expected))
    assert not bad.any(), "%s: output %s" % (case_name, np.argwhere(bad)[:3])


def make_case(name, notes, params, plan, seed, columns=None, width=5):
    # Without with_std the output keeps the data's scale, and sklearn's float32-rounded mean_ is off
    # by up to half an ulp of the big column (4.9e-4 near 1e4, over the 1e-4 output tolerance): the
    # big column sits near 1e3 there (half an ulp 3e-5), so the case measures the semantics.
    big_center = 1.0e4 if params["with_std"] else 1.0e3
    rng = np.random.default_rng(seed)
    scaler = StandardScaler(**params)
    picked = selected(columns, width) if columns is not None else list(range(width))
    steps, seen, drift = [], [], 0.0
    for mode, rows in plan:
        drift += 0.015
        x = features(rng, rows, drift, big_center)
        if width > 5:
            x = np.concatenate([x, rng.normal(5, 2, (rows, width - 5)).astype(np.float32)], axis=1)
        part = x[:, picked]
        if mode == "train":
            scaler.partial_fit(part)
            seen.append(part)
        y_part = scaler.transform(part)
        assert y_part.dtype == np.float32, "sklearn keeps float32 data float32"
        check(name, params, seen, fitted(scaler), part, y_part)
        y = x.copy()
        y[:, picked] = y_part
        steps.append({"mode": mode, "input": f32(x), "output": f32(y), "state_after": fitted(scaler)})
    case = {
        "name": name,
        "source": "scikit-learn %s sklearn.preprocessing.StandardScaler (float32 input), Scripts/make_reference_cases.py"
                  % sklearn.__version__,
        "library_versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
        "stage": {"type": "standard_scale", "convention": "sklearn", "params": params},
        "n_features": width,
        "dtype": "float32",
        "gamma": None,
        "beta": None,
        "initial_state": {},
        "notes": notes,
        "steps": steps,
    }
    if columns is not None:
        case["columns"] = columns
    return case


TRAIN_INFER = [("train", 10), ("train", 7), ("infer", 3), ("train", 16), ("infer", 1), ("train", 5), ("infer", 4)]

CASES = [
    ("sk_standard_default", "with_mean and with_std: a column near 1e4 drifting, one near 1e-3, a constant column "
     "(scale 1), heavy tails, a column whose two values are 6e-7 apart (not constant: scale sqrt(var)); infer steps between train steps.",
     {"with_mean": True, "with_std": True}, TRAIN_INFER, None, 5),
    ("sk_standard_no_mean", "with_mean=False: divide by the running standard deviation only.",
     {"with_mean": False, "with_std": True}, TRAIN_INFER, None, 5),
    ("sk_standard_no_std", "with_std=False: subtract the running mean only; var_ and scale_ are None.",
     {"with_mean": True, "with_std": False}, TRAIN_INFER, None, 5),
    ("sk_standard_identity", "with_mean=False, with_std=False: identity; only n_samples_seen_ is fitted.",
     {"with_mean": False, "with_std": False}, [("train", 6), ("infer", 2), ("train", 9)], None, 5),
    ("sk_standard_columns", "columns: [\"1:4\"] of 7: the scaler sees columns 1, 2, 3 (the 1e-3 one, the constant one, "
     "heavy tails); the others pass through unchanged.",
     {"with_mean": True, "with_std": True}, TRAIN_INFER, ["1:4"], 7),
    ("sk_standard_infer_after_train", "many train steps, then only infer: the stored statistics, unchanged by infer.",
     {"with_mean": True, "with_std": True},
     [("train", 16)] * 4 + [("infer", 8), ("infer", 1), ("infer", 16)], None, 5),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for index, (name, notes, params, plan, columns, width) in enumerate(CASES):
        case = make_case(name, notes, params, plan, seed=1600 + index, columns=columns, width=width)
        (OUT / (name + ".json")).write_text(json.dumps(case, indent=1) + "\n")
        print("wrote", OUT / (name + ".json"), file=sys.stderr)


if __name__ == "__main__":
    main()
