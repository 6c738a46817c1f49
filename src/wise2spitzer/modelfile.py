"""Reading a saved model file without trusting it.

A model file is the thing users share most, so :func:`load_predictor` treats it as hostile
until proven otherwise, in two steps:

1. **Exact types.** A skops file lists the type of every object it holds. skops itself trusts
   only inert types (containers, numbers, strings, numpy arrays and dtypes, scikit-learn's own
   estimators); every other type must be one of :data:`MODEL_FILE_TYPES`, the exact set of
   classes that :meth:`~wise2spitzer.predictor.SpitzerPredictor.save` writes (a test saves
   every kind of model the package can make and compares). No module prefix is trusted and no
   function is accepted, so a crafted file cannot name e.g. a helper inside numpy that runs a
   string.
2. **Validation before use.** The loaded object must be a fitted
   :class:`~wise2spitzer.predictor.SpitzerPredictor` whose parts have the expected classes and
   attributes, whose target and features agree with :mod:`wise2spitzer.schema`, and whose
   every decision tree has feature indices below the number of features its forest is fed and
   child indices that point forward inside the tree (the batch fast path walks trees without
   scikit-learn's input checks, so an out-of-range index would read memory outside the input).

What loading does not guarantee: that the numbers in a valid file are a *good* model. A file
that passes both steps can still predict nonsense if someone edited its arrays consistently;
trust the source of a model as you would trust the source of a catalogue, and check its card
(``wise2spitzer`` prints it with the model) before publishing its predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = ["MODEL_FILE_TYPES", "load_model", "load_predictor", "save_model", "validate_predictor"]

#: Every type outside skops's inert defaults that a wise2spitzer model file may hold. The test
#: ``test_modelfile.py::test_model_file_types_are_exactly_what_save_writes`` saves each kind
#: of model the package makes and checks that this set is exactly what they contain.
MODEL_FILE_TYPES: frozenset[str] = frozenset(
    {
        "wise2spitzer.predictor.SpitzerPredictor",
        "wise2spitzer.bundle.PredictorBundle",
        "wise2spitzer.domain.ConvexHullDomain",
        "wise2spitzer.extrapolation.ExtrapolationZone",
        "wise2spitzer.model.FluxRegressor",
        "wise2spitzer.selection.BorutaSelector",
        "sklearn.tree._tree.Tree",
        "quantile_forest._quantile_forest.ExtraTreesQuantileRegressor",
        "quantile_forest._quantile_forest_fast.QuantileForest",
    }
)

_TREE_LEAF = -1
_JSON_SCALARS = (str, int, float, bool, type(None))


def save_model(obj: Any, path: str | Path) -> Path:
    """Write a predictor or bundle with :func:`skops.io.dump` (no pickle), atomically.

    The folder of ``path`` is created; the file appears only when complete.
    """
    import skops.io as sio

    from .catalog.atomic import atomic_output

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        sio.dump(obj, tmp)
    return path


def load_predictor(path: str | Path):
    """Read a single-model file written by ``SpitzerPredictor.save``, refusing anything else.

    Like :func:`load_model`, but a bundle is refused (use ``PredictorBundle.load``).
    """
    from .predictor import SpitzerPredictor

    obj = load_model(path)
    if not isinstance(obj, SpitzerPredictor):
        raise ModelError(
            f"{path} holds a bundle of {len(obj.members)} models; load it with "
            "PredictorBundle.load"
        )
    return obj


def load_model(path: str | Path):
    """Read a model file (one predictor or a bundle), refusing anything else.

    Parameters
    ----------
    path : str or Path
        A ``.skops`` file.

    Returns
    -------
    SpitzerPredictor or PredictorBundle
        Validated by :func:`validate_predictor`.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ModelError
        If the file is not a skops file, holds a type outside :data:`MODEL_FILE_TYPES`, or
        what it holds is not a valid, fitted predictor. Nothing in the file is run first.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "No such model file", str(path))
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # zip, JSON or schema errors of a damaged or foreign file
        raise ModelError(
            f"{path} is not a wise2spitzer model file (skops): {_one_line(exc)}"
        ) from exc
    refused = sorted(untrusted - MODEL_FILE_TYPES)
    if refused:
        raise ModelError(
            f"{path} holds types outside the allow-list of wise2spitzer model files: "
            f"{refused}; refusing to load it (allowed: {sorted(MODEL_FILE_TYPES)})"
        )
    try:
        obj = sio.load(path, trusted=sorted(untrusted))
    except Exception as exc:
        raise ModelError(f"could not load model file {path}: {_one_line(exc)}") from exc
    return validate_predictor(obj, source=str(path))


def validate_predictor(obj: Any, *, source: str = "<model>"):
    """Check that ``obj`` is a fitted, self-consistent predictor (or bundle) before use.

    Parameters
    ----------
    obj : object
        What a model file held.
    source : str
        Named in error messages (the file path).

    Returns
    -------
    SpitzerPredictor or PredictorBundle
        ``obj`` itself.

    Raises
    ------
    ModelError
        ``"<source> is not a valid wise2spitzer model: <what is wrong>"``.
    """
    from .bundle import PredictorBundle

    try:
        if type(obj) is PredictorBundle:
            _check_bundle(obj)
        else:
            _check_predictor(obj)
    except _Invalid as exc:
        raise ModelError(f"{source} is not a valid wise2spitzer model: {exc}") from None
    except Exception as exc:  # a malformed attribute that broke a check itself
        raise ModelError(
            f"{source} is not a valid wise2spitzer model: {type(exc).__name__}: "
            f"{_one_line(exc)}"
        ) from None
    return obj


class _Invalid(Exception):
    """A validation failure (turned into ModelError with the file's name)."""


def _one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise _Invalid(message)


def _attr(obj: Any, name: str, where: str) -> Any:
    _require(name in getattr(obj, "__dict__", {}), f"{where} lacks the attribute {name!r}")
    return obj.__dict__[name]


def _exact(obj: Any, classes: tuple[type, ...], where: str) -> None:
    names = " or ".join(c.__name__ for c in classes)
    _require(type(obj) in classes, f"{where} is a {type(obj).__name__}, expected {names}")


def _str_list(value: Any, where: str) -> list[str]:
    _require(
        isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
        f"{where} must be a list of column names; got {type(value).__name__}",
    )
    return list(value)


def _array(value: Any, where: str, *, ndim: int, shape: tuple | None = None,
           kind: str = "f", finite: bool = True) -> np.ndarray:
    _require(isinstance(value, np.ndarray), f"{where} must be an array; got {type(value).__name__}")
    _require(value.ndim == ndim, f"{where} must have {ndim} dimension(s); got {value.ndim}")
    _require(value.dtype.kind in kind, f"{where} has dtype {value.dtype}, expected kind {kind!r}")
    if shape is not None:
        ok = all(s is None or s == d for s, d in zip(shape, value.shape, strict=True))
        _require(ok, f"{where} has shape {value.shape}, expected {shape}")
    if finite and value.dtype.kind == "f":
        _require(bool(np.isfinite(value).all()), f"{where} holds NaN or infinite values")
    return value


def _check_plain(value: Any, where: str, depth: int = 0) -> None:
    """Card values must be plain JSON: what ``SpitzerPredictor.fit`` writes."""
    _require(depth < 20, f"{where} is nested too deeply")
    if isinstance(value, Mapping):
        _require(type(value) is dict, f"{where} must be a dict")
        for k, v in value.items():
            _require(isinstance(k, str), f"{where} has a non-string key")
            _check_plain(v, f"{where}[{k!r}]", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]", depth + 1)
    else:
        _require(type(value) in _JSON_SCALARS, f"{where} holds a {type(value).__name__}")


# ---------------------------------------------------------------------------------- parts
def _check_bundle(bundle: Any) -> None:
    members = _attr(bundle, "members", "the bundle")
    _require(isinstance(members, list) and len(members) > 0, "the bundle holds no models")
    seen = set()
    for i, p in enumerate(members):
        try:
            _check_predictor(p)
        except _Invalid as exc:
            raise _Invalid(f"bundle member {i}: {exc}") from None
        key = (p.target_key, p.sample)
        _require(key not in seen, f"the bundle holds two models for {key}")
        seen.add(key)


def _check_predictor(p: Any) -> None:
    from .features import FEATURE_SETS, feature_columns, required_columns
    from .predictor import SpitzerPredictor
    from .schema import TARGETS, WISE_FLUX_COLUMNS

    _require(type(p) is SpitzerPredictor,
             f"it holds a {type(p).__name__}, not a SpitzerPredictor or PredictorBundle")
    key = _attr(p, "target_key", "the predictor")
    _require(isinstance(key, str) and key in TARGETS,
             f"target {key!r} is not one of {sorted(TARGETS)}")
    target = TARGETS[key]
    sample = _attr(p, "sample", "the predictor")
    _require(sample in ("clean", "unclean", "all"), f"sample {sample!r} is not a known sample")
    fset = _attr(p, "feature_set", "the predictor")
    _require(fset in FEATURE_SETS, f"feature set {fset!r} is not one of {sorted(FEATURE_SETS)}")
    features = _str_list(_attr(p, "features", "the predictor"), "features")
    allowed = set(feature_columns(fset))
    _require(len(features) > 0 and set(features) <= allowed,
             f"features {sorted(set(features) - allowed)} are not in feature set {fset!r}")
    _require(len(set(features)) == len(features), "features repeat a column")
    inputs = _str_list(_attr(p, "input_columns", "the predictor"), "input_columns")
    expected = list(dict.fromkeys(list(WISE_FLUX_COLUMNS) + list(required_columns(fset))))
    _require(inputs == expected,
             f"input_columns {inputs} do not match feature set {fset!r} ({expected})")
    card = _attr(p, "card", "the predictor")
    _check_plain(card, "card")
    _require(isinstance(card, dict), "card must be a dict")
    for field, want in (("target", target.key), ("target_column", target.column),
                        ("sample", sample), ("feature_set", fset)):
        if field in card:
            _require(card[field] == want,
                     f"card says {field} {card[field]!r} but the model is {want!r}")
    _check_domain(_attr(p, "domain", "the predictor"), WISE_FLUX_COLUMNS)
    zone = p.__dict__.get("extrapolation")  # absent in files saved before the zone existed
    if zone is not None:
        _check_zone(zone, len(WISE_FLUX_COLUMNS))
    _check_detection_limit(p)
    _check_nonclean_calibration(p)
    _check_regressor(_attr(p, "regressor", "the predictor"), features, target)


def _check_domain(dom: Any, columns) -> None:
    from .domain import ConvexHullDomain

    _exact(dom, (ConvexHullDomain,), "domain")
    _require(list(_attr(dom, "columns", "domain")) == list(columns),
             f"domain columns must be {list(columns)}")
    tol = _attr(dom, "tol", "domain")
    _require(isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0,
             f"domain tol must be a finite number >= 0; got {tol!r}")
    dim = len(columns)
    _require(_attr(dom, "n_features_in_", "domain") == dim, f"domain must be {dim}-dimensional")
    eq = _array(_attr(dom, "equations_", "domain"), "domain equations_", ndim=2,
                shape=(None, dim + 1))
    _require(len(eq) >= dim + 1, "domain has too few facets to bound a region")
    _array(_attr(dom, "bounds_", "domain"), "domain bounds_", ndim=2, shape=(2, dim))
    if "vertices_" in dom.__dict__:
        _array(dom.__dict__["vertices_"], "domain vertices_", ndim=2, shape=(None, dim))


def _check_nonclean_calibration(p: Any) -> None:
    """Scores of the non-clean rows: absent/None, or one finite 1-D array per conformal bin."""
    scores = p.__dict__.get("nonclean_calibration")
    if scores is None:
        return
    edges = getattr(p.regressor, "conformal_bin_edges_", None)
    _require(isinstance(edges, np.ndarray) and isinstance(scores, list)
             and len(scores) == len(edges) + 1,
             "nonclean_calibration must hold one array per conformal bin")
    for i, v in enumerate(scores):
        _array(v, f"nonclean_calibration[{i}]", ndim=1)
    _require(sum(len(v) for v in scores) > 0, "nonclean_calibration holds no score")


def _check_detection_limit(p: Any) -> None:
    """Floor and margin of the upper-limit rule: both absent (older files) or both valid."""
    floor = p.__dict__.get("detection_floor")
    margin = p.__dict__.get("detection_margin")
    if floor is None and margin is None:
        return
    _require(isinstance(floor, float) and math.isfinite(floor) and floor > 0,
             f"detection_floor must be a finite number > 0 (uJy); got {floor!r}")
    _require(isinstance(margin, float) and math.isfinite(margin) and margin >= 0,
             f"detection_margin must be a finite number >= 0; got {margin!r}")


def _check_zone(zone: Any, dim: int) -> None:
    from .extrapolation import ExtrapolationZone
    from .model import CONFORMAL_TAILS

    _exact(zone, (ExtrapolationZone,), "extrapolation")
    for name in ("confidence", "tolerance"):
        v = _attr(zone, name, "extrapolation")
        _require(isinstance(v, float) and 0 <= v < 1, f"extrapolation {name} must lie in [0, 1)")
    _require(_attr(zone, "tails", "extrapolation") in CONFORMAL_TAILS,
             f"extrapolation tails must be one of {CONFORMAL_TAILS}")
    _array(_attr(zone, "scale_", "extrapolation"), "extrapolation scale_", ndim=1, shape=(dim,))
    _array(_attr(zone, "heldout_distance_", "extrapolation"), "extrapolation heldout_distance_",
           ndim=1, finite=False)
    _array(_attr(zone, "scores_", "extrapolation"), "extrapolation scores_", ndim=1)
    edge = _attr(zone, "max_distance_", "extrapolation")
    _require(isinstance(edge, float) and math.isfinite(edge) and edge >= 0,
             f"extrapolation max_distance_ must be a finite number >= 0; got {edge!r}")


def _check_regressor(reg: Any, features: list[str], target) -> None:
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PowerTransformer, StandardScaler

    from .model import FluxRegressor, interval_method_names
    from .selection import BorutaSelector

    _exact(reg, (FluxRegressor,), "regressor")
    n_in = _attr(reg, "n_features_in_", "regressor")
    _require(n_in == len(features), f"regressor takes {n_in} features, the predictor names "
             f"{len(features)}")
    names = _attr(reg, "feature_names_in_", "regressor")
    _require(isinstance(names, np.ndarray) and list(names) == features,
             "regressor feature names differ from the predictor's features")
    mask = _array(_attr(reg, "input_mask_", "regressor"), "input_mask_", ndim=1,
                  shape=(n_in,), kind="b")
    support = _array(_attr(reg, "support_", "regressor"), "support_", ndim=1, shape=(n_in,),
                     kind="b")
    _require(bool(mask.any()) and not bool((support & ~mask).any()),
             "support_ must select features inside input_mask_")
    _check_counterpart(reg, features, target)

    pipe = _attr(reg, "pipeline_", "regressor")
    _exact(pipe, (Pipeline,), "regressor pipeline_")
    steps = pipe.steps
    _require(isinstance(steps, list) and [s[0] for s in steps] == ["power", "select", "model"],
             "regressor pipeline_ must have the steps power, select, model")
    n_mask = int(mask.sum())
    power = steps[0][1]
    _exact(power, (PowerTransformer,), "pipeline step 'power'")
    _array(_attr(power, "lambdas_", "power step"), "power lambdas_", ndim=1, shape=(n_mask,))
    scaler = _attr(power, "_scaler", "power step")
    _exact(scaler, (StandardScaler,), "power step scaler")
    _array(_attr(scaler, "mean_", "power scaler"), "scaler mean_", ndim=1, shape=(n_mask,))
    _array(_attr(scaler, "scale_", "power scaler"), "scaler scale_", ndim=1, shape=(n_mask,))
    select = steps[1][1]
    if select == "passthrough" or select is None:
        n_sel = n_mask
        _require(bool((support == mask).all()), "support_ must equal input_mask_ without selection")
    else:
        _exact(select, (BorutaSelector,), "pipeline step 'select'")
        sel = _array(_attr(select, "support_", "select step"), "selector support_", ndim=1,
                     shape=(n_mask,), kind="b")
        _require(bool((support[mask] == sel).all()), "support_ disagrees with the selector")
        n_sel = int(sel.sum())
        _require(n_sel > 0, "the selector keeps no feature")
    model = steps[2][1]
    _exact(model, (ExtraTreesRegressor, LinearRegression), "pipeline step 'model'")
    if isinstance(model, LinearRegression):
        coef = _array(_attr(model, "coef_", "linear model"), "coef_", ndim=1, shape=(n_sel,))
        del coef
    else:
        _check_forest(model, n_sel, "the forest")

    methods = _attr(reg, "interval_methods_", "regressor")
    # Methods registered in this process count: a model fitted with a user's method loads
    # where that method is registered (its fitted state is plain arrays on the regressor).
    known = interval_method_names()
    _require(isinstance(methods, (tuple, list)) and set(methods) <= set(known),
             f"interval_methods_ {methods!r} are not among the registered {list(known)}")
    _require(_attr(reg, "interval_method_", "regressor") in methods,
             "interval_method_ is not one of interval_methods_")
    if "conformal" in methods:
        _check_conformal(reg, n_sel)
    if "qrf" in methods:
        _check_qrf(_attr(reg, "qrf_", "regressor"), n_sel)


def _check_counterpart(reg: Any, features: list[str], target) -> None:
    idx = _attr(reg, "counterpart_index_", "regressor")
    if idx is None:
        return
    _require(isinstance(idx, (int, np.integer)) and 0 <= int(idx) < len(features),
             f"counterpart_index_ {idx!r} is outside the {len(features)} features")
    _require(features[int(idx)] == target.counterpart,
             f"the model learns relative to {features[int(idx)]!r}, but the {target.key} "
             f"model's WISE counterpart is {target.counterpart!r} (was the target edited?)")


def _check_conformal(reg: Any, n_sel: int) -> None:
    from sklearn.ensemble import ExtraTreesRegressor

    edges = _array(_attr(reg, "conformal_bin_edges_", "regressor"), "conformal_bin_edges_",
                   ndim=1)
    _require(bool(np.all(np.diff(edges) >= 0)), "conformal_bin_edges_ must be sorted")
    scores = _attr(reg, "conformity_scores_", "regressor")
    _require(isinstance(scores, list) and len(scores) == len(edges) + 1,
             "conformity_scores_ must hold one array per conformal bin")
    for i, s in enumerate(scores):
        s = _array(s, f"conformity_scores_[{i}]", ndim=1)
        _require(len(s) > 0, f"conformity_scores_[{i}] is empty")
    floor = _attr(reg, "sigma_floor_", "regressor")
    _require(isinstance(floor, (int, float)) and math.isfinite(floor) and floor >= 0,
             f"sigma_floor_ must be a finite number >= 0; got {floor!r}")
    kind = _attr(reg, "conformal_score_", "regressor")
    _require(kind in ("spread", "residual"), f"conformal_score_ {kind!r} is not known")
    if kind == "residual":
        g = _attr(reg, "difficulty_model_", "regressor")
        _exact(g, (ExtraTreesRegressor,), "difficulty_model_")
        n_extra = 2 if reg.__dict__.get("estimator") == "extratrees" else 1
        _check_forest(g, n_sel + n_extra, "the difficulty forest")


def _check_forest(forest: Any, n_features: int, where: str) -> None:
    from sklearn.tree import ExtraTreeRegressor

    _require(_attr(forest, "n_features_in_", where) == n_features,
             f"{where} takes {forest.__dict__.get('n_features_in_')} features, expected "
             f"{n_features}")
    trees = _attr(forest, "estimators_", where)
    _require(isinstance(trees, list) and len(trees) > 0, f"{where} has no trees")
    for i, est in enumerate(trees):
        _exact(est, (ExtraTreeRegressor,), f"{where} tree {i}")
        _require(_attr(est, "n_features_in_", f"{where} tree {i}") == n_features,
                 f"{where} tree {i} takes a different number of features")
        check_tree_arrays(_attr(est, "tree_", f"{where} tree {i}"), n_features,
                          f"{where} tree {i}")


def check_tree_arrays(tree: Any, n_features: int, where: str = "tree") -> None:
    """Refuse a tree whose node arrays would index outside the input or the tree.

    Every internal node must test a feature in ``[0, n_features)`` and point to two children
    with larger indices inside the tree (so traversal moves forward and ends); leaves have no
    children. ``tree.n_features`` must equal ``n_features``.
    """
    from sklearn.tree._tree import Tree

    _exact(tree, (Tree,), where)
    _require(tree.n_features == n_features,
             f"{where} was built for {tree.n_features} features, expected {n_features}")
    n = int(tree.node_count)
    _require(n >= 1, f"{where} has no nodes")
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    _require(left.shape == right.shape == feature.shape == (n,),
             f"{where} node arrays do not have node_count={n} entries")
    _require(np.asarray(tree.value).shape[0] == n, f"{where} values do not match its nodes")
    leaf = left == _TREE_LEAF
    _require(bool(np.array_equal(leaf, right == _TREE_LEAF)),
             f"{where} has a node with one child")
    node = np.arange(n)
    internal = ~leaf
    _require(bool(np.all((left[internal] > node[internal]) & (left[internal] < n)
                         & (right[internal] > node[internal]) & (right[internal] < n))),
             f"{where} has a child index outside the tree or pointing backwards")
    _require(bool(np.all((feature[internal] >= 0) & (feature[internal] < n_features))),
             f"{where} tests a feature index outside 0..{n_features - 1}")
    _require(bool(np.isfinite(np.asarray(tree.threshold)[internal]).all()),
             f"{where} has a non-finite threshold")


def _check_qrf(qrf: Any, n_sel: int) -> None:
    from quantile_forest import ExtraTreesQuantileRegressor

    _exact(qrf, (ExtraTreesQuantileRegressor,), "qrf_")
    _check_forest(qrf, n_sel, "the quantile forest")
    forest = _attr(qrf, "forest_", "qrf_")
    y_train = np.asarray(forest.y_train)
    leaves = np.asarray(forest.y_train_leaves)
    _require(y_train.ndim == 2 and leaves.ndim == 4, "the quantile forest's arrays are malformed")
    n_trees = len(qrf.estimators_)
    max_nodes = max(int(e.tree_.node_count) for e in qrf.estimators_)
    _require(leaves.shape[0] == n_trees and leaves.shape[1] >= max_nodes
             and leaves.shape[2] == y_train.shape[0],
             "the quantile forest's leaf table does not match its trees")
    # Leaf entries are 1-based indices into the training targets; 0 marks an empty slot.
    _require(bool(np.all((leaves >= 0) & (leaves <= y_train.shape[1]))),
             "the quantile forest's leaf table points outside its training targets")
