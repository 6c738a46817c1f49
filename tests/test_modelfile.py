"""A model file from a stranger: exact types, validation before use, no code run."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from wise2spitzer.bundle import PredictorBundle
from wise2spitzer.cli import main
from wise2spitzer.datasets import simulate_seip
from wise2spitzer.errors import ModelError
from wise2spitzer.modelfile import MODEL_FILE_TYPES, validate_predictor
from wise2spitzer.predictor import SpitzerPredictor

SEED = 0

# Every kind of model the package can make: both targets, both target forms, every interval
# method, the linear baseline, with and without feature selection, and the residual score.
KINDS = {
    "mips1-conformal": dict(target="mips1", interval_method="conformal"),
    "mips1-extrapolate": dict(target="mips1", extrapolate=True),
    "irac4-qrf-paper": dict(target="irac4", interval_method="qrf", form="paper"),
    "irac4-tree_sem-noselect": dict(target="irac4", interval_method="tree_sem",
                                    select_features=False, feature_set="flux"),
    "mips1-linear": dict(target="mips1", estimator="linear"),
    "irac4-residual": dict(target="irac4", conformal_score="residual"),
}


@pytest.fixture(scope="module")
def sim():
    return simulate_seip(1500, random_state=SEED)


@pytest.fixture(scope="module")
def saved(sim, tmp_path_factory):
    """Path of one saved model of every kind."""
    root = tmp_path_factory.mktemp("models")
    paths = {}
    for name, kw in KINDS.items():
        kw = dict(kw)
        p = SpitzerPredictor().fit(sim, sample="unclean", preset="none", random_state=SEED,
                                   n_estimators=8, test_size=None, **kw)
        paths[name] = p.save(root / f"{name}.skops")
    members = [SpitzerPredictor().fit(sim, target="irac4", sample=s, preset="none",
                                      random_state=SEED, n_estimators=8, test_size=None)
               for s in ("clean", "unclean")]
    paths["bundle"] = PredictorBundle(members).save(root / "bundle.skops")
    return paths


def _schema(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("schema.json"))


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a skops file, changing its schema.json with ``edit(schema)``."""
    schema = _schema(src)
    edit(schema)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "schema.json":
                data = json.dumps(schema).encode()
            zout.writestr(item, data)
    return dst


def _attrs(schema: dict) -> dict:
    """The predictor's attribute nodes (its state dict)."""
    return schema["content"]["content"]


_IDS = iter(range(10**9, 2 * 10**9))


def _str_node(text: str) -> dict:
    # skops memoises nodes by __id__: every crafted node needs its own.
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(text), "is_json": True, "__id__": next(_IDS)}


def _code_node(code: str) -> dict:
    """A node that calls a function under an allowed-looking module prefix with a string."""
    namespace = {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                 "content": {}, "key_types": {"__class__": "list", "__module__": "builtins",
                                             "__loader__": "ListNode", "content": [],
                                             "__id__": next(_IDS)},
                 "__id__": next(_IDS)}
    args = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
            "content": [_str_node(code), namespace], "__id__": next(_IDS)}
    return {"__class__": "runstring", "__module__": "numpy.testing._private.utils",
            "__loader__": "ConstructorFromReduceNode", "content": args, "__id__": next(_IDS)}


def test_model_file_types_are_exactly_what_save_writes(saved):
    import skops.io as sio

    written = set()
    for path in saved.values():
        written |= set(sio.get_untrusted_types(file=path))
    assert written == MODEL_FILE_TYPES


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_round_trips(saved, sim, name):
    p = SpitzerPredictor.load(saved[name])
    out = p.predict_catalog(sim.iloc[:50])
    assert len(out) == 50


def test_bundle_round_trips_and_members_are_validated(saved, sim, tmp_path):
    b = PredictorBundle.load(saved["bundle"])
    pd_out = b.predict_catalog(sim.iloc[:80])
    assert list(pd_out["i4_pred_model"].unique()) != [] and len(pd_out) == 80
    with pytest.raises(ModelError, match="load it with PredictorBundle.load"):
        SpitzerPredictor.load(saved["bundle"])
    single = PredictorBundle.load(saved["mips1-linear"])
    assert [p.target.key for p in single.members] == ["mips1"]
    bad = copy.deepcopy(b)
    bad.members[1].features = ["nope"]
    with pytest.raises(ModelError, match="bundle member 1: features"):
        validate_predictor(bad)


def test_code_in_an_allowed_looking_type_is_refused_and_not_run(saved, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _rewrite(saved["mips1-conformal"], tmp_path / "evil.skops",
                    lambda s: _attrs(s).__setitem__(
                        "card", _code_node(f"open({str(marker)!r}, 'w').write('x')")))
    with pytest.raises(ModelError, match=r"outside the allow-list.*runstring"):
        SpitzerPredictor.load(evil)
    assert not marker.exists()
    inp = tmp_path / "in.csv"
    simulate_seip(50, random_state=SEED).to_csv(inp, index=False)
    out = tmp_path / "out.csv"
    rc = main(["predict", "--model", str(evil), str(inp), str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and not marker.exists() and not out.exists()
    assert err.count("\n") == 1 and "outside the allow-list" in err
    # The payload is live: trusting what the file names (as a prefix allow-list did) runs it.
    import skops.io as sio

    sio.load(evil, trusted=sio.get_untrusted_types(file=evil))
    assert marker.exists()


def _first_tree_node(schema: dict) -> dict:
    """The node of the first tree of the final forest."""
    reg = _attrs(schema)["regressor"]["content"]["content"]
    steps = reg["pipeline_"]["content"]["content"]["steps"]["content"]
    forest = steps[2]["content"][1]["content"]["content"]
    tree = forest["estimators_"]["content"][0]["content"]["content"]["tree_"]
    return tree


def _edit_tree(src: Path, dst: Path, field: str, value: int) -> Path:
    """Change one entry of the first tree's node array (a structured .npy) in a copy."""
    import io

    node = _first_tree_node(_schema(src))
    npy = node["content"]["content"]["nodes"]["file"]
    with zipfile.ZipFile(src) as zin:
        arr = np.load(io.BytesIO(zin.read(npy)), allow_pickle=False)
        internal = np.flatnonzero(arr["left_child"] != -1)
        arr[field][internal[0]] = value
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        with zipfile.ZipFile(dst, "w") as zout:
            for item in zin.infolist():
                data = buf.getvalue() if item.filename == npy else zin.read(item.filename)
                zout.writestr(item, data)
    return dst


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("feature", 10_000, "feature index outside"),
        ("feature", -5, "feature index outside"),
        ("left_child", 1_000_000, "child index outside"),
        ("right_child", 0, "child index outside the tree or pointing backwards"),
    ],
)
def test_bad_tree_arrays_are_refused(saved, tmp_path, capsys, field, value, message):
    bad = _edit_tree(saved["mips1-conformal"], tmp_path / "bad.skops", field, value)
    with pytest.raises(ModelError, match=message):
        SpitzerPredictor.load(bad)
    inp = tmp_path / "in.csv"
    simulate_seip(30, random_state=SEED).to_csv(inp, index=False)
    rc = main(["predict", "--model", str(bad), str(inp), str(tmp_path / "o.parquet")])
    assert rc == 2 and not (tmp_path / "o.parquet").exists()
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("attr", ["domain", "regressor", "input_columns", "card", "features"])
def test_missing_attribute_is_not_a_valid_model(saved, tmp_path, attr):
    bad = _rewrite(saved["irac4-qrf-paper"], tmp_path / "m.skops",
                   lambda s: _attrs(s).pop(attr))
    with pytest.raises(ModelError, match=f"not a valid wise2spitzer model: .*{attr}"):
        SpitzerPredictor.load(bad)


def test_edited_target_is_refused(saved, tmp_path):
    def edit(s):
        _attrs(s)["target_key"] = _str_node("irac4")

    bad = _rewrite(saved["mips1-conformal"], tmp_path / "m.skops", edit)
    with pytest.raises(ModelError, match="card says target 'mips1' but the model is 'irac4'"):
        SpitzerPredictor.load(bad)

    def edit_both(s):
        edit(s)
        card = _attrs(s)["card"]["content"]
        card["target"] = _str_node("irac4")
        card["target_column"] = _str_node("i4_f_ap1")

    bad = _rewrite(saved["mips1-conformal"], tmp_path / "m2.skops", edit_both)
    with pytest.raises(ModelError, match="counterpart is 'wise3'"):
        SpitzerPredictor.load(bad)


def test_validate_checks_parts_in_memory(saved):
    good = SpitzerPredictor.load(saved["irac4-qrf-paper"])
    bad = copy.deepcopy(good)
    bad.features = ["wise1", "not_a_feature"]
    with pytest.raises(ModelError, match="not in feature set"):
        validate_predictor(bad)
    bad = copy.deepcopy(good)
    bad.regressor.qrf_.forest_.y_train_leaves[0, 0, 0, 0] = 10**6
    with pytest.raises(ModelError, match="points outside its training targets"):
        validate_predictor(bad)
    bad = copy.deepcopy(good)
    bad.card["nested"] = {"x": object()}
    with pytest.raises(ModelError, match=r"card\['nested'\]\['x'\] holds a object"):
        validate_predictor(bad)
    with pytest.raises(ModelError, match="holds a LinearRegression, not a SpitzerPredictor"):
        from sklearn.linear_model import LinearRegression

        validate_predictor(LinearRegression())


def test_foreign_and_damaged_files_are_refused(saved, tmp_path):
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="is not a wise2spitzer model file"):
        SpitzerPredictor.load(junk)
    good = saved["mips1-linear"].read_bytes()
    cut = tmp_path / "cut.skops"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelError):
        SpitzerPredictor.load(cut)
