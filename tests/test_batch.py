"""Streaming, resumable, fast and distributed prediction (wise2spitzer.batch)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from wise2spitzer import batch
from wise2spitzer.batch import (
    ALLWISE_COLUMN_MAP,
    FastPredictor,
    from_allwise,
    is_allwise,
    iter_chunks,
    lean_forest,
    predict_chunk,
    predict_dask,
    predict_file,
)
from wise2spitzer.errors import CatalogError, ModelError
from wise2spitzer.schema import STATUSES, WISE_FLUX_COLUMNS, output_columns, ujy_to_mag

from conftest import RANDOM_STATE

OUT = list(output_columns("mips1").values())


# ------------------------------------------------------------------ fixtures
class CountingPredictor:
    """A stand-in with the predictor's contract, counting calls (I/O-only tests)."""

    target = "mips1"

    def __init__(self) -> None:
        self.calls = 0
        self.max_rows = 0

    def predict_catalog(self, df, *, confidence=0.95, method=None):
        self.calls += 1
        self.max_rows = max(self.max_rows, len(df))
        out = df.copy()
        w4 = pd.to_numeric(df["wise4"], errors="coerce").to_numpy(dtype=float)
        ok = w4 > 0
        out[OUT[0]] = np.where(ok, 0.9 * w4, np.nan)
        out[OUT[1]] = out[OUT[0]] * 0.5
        out[OUT[2]] = out[OUT[0]] * 2.0
        out[OUT[3]] = np.where(ok, "ok", "missing_feature")
        return out


class Dropper(CountingPredictor):
    """Loses a row: the streaming layer must refuse it."""

    def predict_catalog(self, df, **kw):
        return super().predict_catalog(df, **kw).iloc[1:]


@pytest.fixture(scope="module")
def sim(sim_small):
    """The shared simulated catalogue (read-only)."""
    return sim_small


@pytest.fixture(scope="module")
def predictor(mips1_predictor):
    """The shared MIPS1 predictor, every interval method fitted, 40 trees (read-only)."""
    return mips1_predictor


@pytest.fixture
def small(tmp_path):
    """A 1,003-row SEIP-like table (odd size: the last chunk is short) as Parquet."""
    rng = np.random.default_rng(RANDOM_STATE)
    n = 1003
    df = pd.DataFrame(
        {
            "objid": np.arange(n),
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-60, 60, n),
            "wise4": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(1e3, 1e5, n)),
            "cc_flags": ["0000"] * n,
        }
    )
    path = tmp_path / "in.parquet"
    df.to_parquet(path, row_group_size=300)
    return df, path


def _to_allwise(df: pd.DataFrame) -> pd.DataFrame:
    """The simulated SEIP rows written as the AllWISE catalogue would hold them."""
    aw = pd.DataFrame({"designation": df["objid"].astype(str), "ra": df["ra"], "dec": df["dec"]})
    for i in range(1, 5):
        flux = df[f"wise{i}"].to_numpy(dtype=float)
        aw[f"w{i}mpro"] = ujy_to_mag(flux, f"W{i}")
        aw[f"w{i}sigmpro"] = 2.5 / np.log(10) * df[f"dwise{i}"].to_numpy(dtype=float) / flux
        aw[f"w{i}snr"] = df[f"w{i}snr"]
        aw[f"w{i}rchi2"] = df[f"wise{i}rchi2"]
        aw[f"w{i}m"] = df[f"wise{i}m"]
        aw[f"w{i}nm"] = df[f"wise{i}nm"]
    aw["cc_flags"] = df["cc_flags"]
    aw["ext_flg"] = df["ext_flg"]
    return aw


def _log_diff(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    return float(np.max(np.abs(np.log10(a[ok]) - np.log10(b[ok])), initial=0.0))


# ------------------------------------------------------------------ AllWISE mapping
def test_from_allwise_converts_magnitudes_and_keeps_upper_limits():
    aw = pd.DataFrame(
        {
            "w4mpro": [0.0, 5.0, np.nan],
            "w4sigmpro": [0.1, np.nan, np.nan],  # row 1: a 95% upper limit
            "w4rchi2": [1.0, 2.0, 3.0],
            "w4m": [10, 11, 12],
            "w4nm": [9, 0, 0],
        }
    )
    seip = from_allwise(aw)
    assert seip["wise4"].iloc[0] == pytest.approx(8.363e6)
    assert seip["wise4"].iloc[1] == pytest.approx(8.363e6 * 10 ** (-2.0))
    assert np.isnan(seip["wise4"].iloc[2])  # null magnitude: not measured
    assert seip["dwise4"].iloc[0] == pytest.approx(8.363e6 * np.log(10) / 2.5 * 0.1)
    assert np.isnan(seip["dwise4"].iloc[1])  # upper limit keeps no error, as in SEIP
    assert seip["wise4rchi2"].tolist() == [1.0, 2.0, 3.0]
    assert seip["wise4m"].tolist() == [10, 11, 12] and seip["wise4nm"].tolist() == [9, 0, 0]
    assert list(aw.columns) == list(seip.columns[: len(aw.columns)])  # originals kept
    assert is_allwise(aw) and not is_allwise(seip)
    assert set(ALLWISE_COLUMN_MAP.values()) >= set(WISE_FLUX_COLUMNS)


def test_from_allwise_errors_name_the_columns():
    with pytest.raises(CatalogError, match=r"needs at least one of the columns \['w1mpro'"):
        from_allwise(pd.DataFrame({"ra": [1.0]}))
    with pytest.raises(CatalogError, match="'w2mpro' must be numeric"):
        from_allwise(pd.DataFrame({"w2mpro": ["bright"]}))


def test_allwise_input_predicts_like_the_seip_table(sim, predictor, tmp_path):
    rows = sim.iloc[:600].reset_index(drop=True)
    seip_out = predictor.predict_catalog(rows)
    aw = _to_allwise(rows)
    aw.to_parquet(tmp_path / "allwise.parquet")
    summary = predict_file(predictor, tmp_path / "allwise.parquet", tmp_path / "out.parquet",
                           chunksize=250)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == list(aw.columns) + OUT  # AllWISE in, AllWISE + predictions out
    assert (out[OUT[3]].to_numpy() == seip_out[OUT[3]].to_numpy()).all()
    # Rows with a bound: a value (ok) or, near the detection floor, an upper limit.
    assert seip_out[OUT[3]].isin(["ok", "upper_limit"]).sum() > 20
    for col in OUT[:3]:
        assert _log_diff(out[col], seip_out[col]) < 1e-6
    assert summary.rows_in == summary.rows_out == len(rows)


# ------------------------------------------------------------------ streaming files
@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv", "out.fits", "out.ecsv", "out.vot"])
def test_every_row_comes_out_once_in_order(small, tmp_path, out_name):
    df, path = small
    pred = CountingPredictor()
    summary = predict_file(pred, path, tmp_path / out_name, chunksize=200)
    from wise2spitzer.catalog import read_catalog

    out = read_catalog(tmp_path / out_name)
    assert out["objid"].astype(int).tolist() == df["objid"].tolist()
    assert list(out.columns[-4:]) == OUT
    assert summary.rows_in == summary.rows_out == len(df) == len(out)
    assert sum(summary.status_counts[OUT[3]].values()) == len(df)
    assert summary.status_counts[OUT[3]]["missing_feature"] == int(df["wise4"].isna().sum())
    assert pred.calls == summary.chunks == 6  # 200-row chunks of 300-row row groups
    assert not list(tmp_path.glob(".*"))  # no temp file or checkpoint left behind


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv", "out.fits", "out.ecsv", "out.vot"])
def test_output_metadata_names_the_interval_method(sim, predictor, tmp_path, out_name):
    from wise2spitzer.catalog import read_catalog

    src = tmp_path / "in.parquet"
    sim.iloc[:400].to_parquet(src)
    predict_file(predictor, src, tmp_path / out_name, chunksize=150, confidence=0.9)
    meta = read_catalog(tmp_path / out_name).attrs["meta"]
    meta = {k.lower(): v for k, v in meta.items()}  # FITS keywords come back upper case
    assert meta["interval_method"] == "conformal" and meta["conformal_tails"] == "separate"
    assert float(meta["interval_confidence"]) == 0.9 and meta["target"] == "mips1"
    assert meta["creator"].startswith("wise2spitzer") and len(meta["model_sha256"]) == 64
    predict_file(predictor, src, tmp_path / out_name, method="tree_sem")
    meta = {k.lower(): v for k, v in read_catalog(tmp_path / out_name).attrs["meta"].items()}
    assert meta["interval_method"] == "tree_sem" and "conformal_tails" not in meta


@pytest.mark.parametrize("in_name", ["in.csv", "in.fits", "in.ecsv"])
def test_streams_other_input_formats(small, tmp_path, in_name):
    df, _ = small
    from wise2spitzer.catalog import write_catalog

    write_catalog(df, tmp_path / in_name)
    pred = CountingPredictor()
    predict_file(pred, tmp_path / in_name, tmp_path / "out.parquet", chunksize=400)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["objid"].tolist() == df["objid"].tolist()
    assert out["cc_flags"].tolist() == ["0000"] * len(df)  # codes stay strings
    assert pred.calls == 3 and pred.max_rows == 400  # bounded chunks, not the whole table


def test_iter_chunks_reads_hats_like_directories_in_pixel_order(tmp_path):
    d = tmp_path / "cat" / "dataset" / "Norder=1" / "Dir=0"
    d.mkdir(parents=True)
    for pix in (10, 9, 2):  # numeric, not string, order: 2, 9, 10
        pd.DataFrame({"pix": [pix] * 3}).to_parquet(d / f"Npix={pix}.parquet")
    pd.DataFrame({"pix": [-1]}).to_parquet(tmp_path / "cat" / "dataset" / "_metadata.parquet")
    chunks = list(iter_chunks(tmp_path / "cat", chunksize=2))
    assert [c["pix"].tolist() for c in chunks] == [[2, 2], [2], [9, 9], [9], [10, 10], [10]]


def test_failed_run_leaves_no_output_and_resume_skips_finished_chunks(small, tmp_path):
    df, path = small
    out = tmp_path / "out.parquet"
    first = CountingPredictor()

    def crash_after_three(i, result):
        if i == 2:
            raise RuntimeError("simulated kill")

    with pytest.raises(RuntimeError, match="simulated kill"):
        predict_file(first, path, out, chunksize=100, on_chunk=crash_after_three)
    assert first.calls == 3
    assert not out.exists()  # a partial output never looks finished
    ckpt = tmp_path / ".out.parquet.parts"
    assert len(list(ckpt.glob("part-*.arrow"))) == 3

    second = CountingPredictor()
    summary = predict_file(second, path, out, chunksize=100, resume=True)
    assert summary.chunks == 11 and summary.chunks_reused == 3
    assert second.calls == 11 - 3  # finished chunks are not recomputed
    got = pd.read_parquet(out)
    assert got["objid"].tolist() == df["objid"].tolist()  # no duplicates, no gaps, in order
    assert not ckpt.exists()

    reference = tmp_path / "ref.parquet"
    predict_file(CountingPredictor(), path, reference, chunksize=100)
    pd.testing.assert_frame_equal(got, pd.read_parquet(reference))


def test_checkpoint_of_another_model_or_without_resume_is_not_reused(small, tmp_path):
    df, path = small
    out = tmp_path / "out.csv"

    def crash(i, result):
        if i == 1:
            raise RuntimeError("kill")

    with pytest.raises(RuntimeError):
        predict_file(CountingPredictor(), path, out, chunksize=250, on_chunk=crash,
                     model_hash="model-a")
    other = CountingPredictor()
    summary = predict_file(other, path, out, chunksize=250, resume=True, model_hash="model-b")
    assert summary.chunks_reused == 0 and other.calls == summary.chunks == 5

    with pytest.raises(RuntimeError):
        predict_file(CountingPredictor(), path, out, chunksize=250, on_chunk=crash)
    fresh = CountingPredictor()
    predict_file(fresh, path, out, chunksize=250)  # no --resume: start over
    assert fresh.calls == 5
    assert pd.read_csv(out)["objid"].tolist() == df["objid"].tolist()


def test_errors_name_the_parameter(small, tmp_path):
    _, path = small
    pred = CountingPredictor()
    with pytest.raises(ModelError, match=r"engine must be one of \['local', 'dask'\]; got 'spark'"):
        predict_file(pred, path, tmp_path / "o.parquet", engine="spark")
    with pytest.raises(ModelError, match="chunksize must be a positive integer; got 0"):
        predict_file(pred, path, tmp_path / "o.parquet", chunksize=0)
    with pytest.raises(CatalogError, match="cannot tell the format of output"):
        predict_file(pred, path, tmp_path / "o.xyz")
    with pytest.raises(FileNotFoundError, match="No such file"):
        predict_file(pred, tmp_path / "missing.parquet", tmp_path / "o.parquet")
    with pytest.raises(ModelError, match="n_jobs must be a positive integer; got 0"):
        FastPredictor(pred, n_jobs=0)
    with pytest.raises(ModelError, match="catalog must be an lsdb Catalog or a dask DataFrame"):
        predict_dask(pred, pd.DataFrame())

    with pytest.raises(ModelError, match="returned 199 rows for 200 input rows"):
        predict_file(Dropper(), path, tmp_path / "o.parquet", chunksize=200)
    (tmp_path / "bad.csv").write_text('a,b\n1,"2\n')
    with pytest.raises(CatalogError, match="cannot read csv input"):
        predict_file(pred, tmp_path / "bad.csv", tmp_path / "o.parquet")


# ------------------------------------------------------------------ fast path
@pytest.mark.parametrize("method", ["conformal", "tree_sem"])
def test_fast_path_equals_the_plain_predictor(sim, predictor, method):
    plain = predictor.predict_catalog(sim, confidence=0.9, method=method)
    for n_jobs in (1, 2):
        fast = FastPredictor(predictor, n_jobs=n_jobs).predict_catalog(
            sim, confidence=0.9, method=method
        )
        assert list(fast.columns) == list(plain.columns)
        assert (fast[OUT[3]].to_numpy() == plain[OUT[3]].to_numpy()).all()
        for col in OUT[:3]:
            assert _log_diff(fast[col], plain[col]) < 1e-6
    assert set(plain[OUT[3]]) <= set(STATUSES)
    assert plain[OUT[3]].isin(["ok", "upper_limit"]).sum() > 100


def test_fast_path_hands_other_interval_methods_to_the_predictor(sim, predictor):
    rows = sim.iloc[:300]
    plain = predictor.predict_catalog(rows, method="qrf")
    fast = FastPredictor(predictor).predict_catalog(rows, method="qrf")
    pd.testing.assert_frame_equal(fast, plain)
    with pytest.raises(ModelError, match=r"method must be one of \['conformal'.*got 'bogus'"):
        FastPredictor(predictor).predict_catalog(rows, method="bogus")
    with pytest.raises(ModelError, match=r"confidence must lie in \(0, 1\); got 1.5"):
        FastPredictor(predictor).predict_catalog(rows, confidence=1.5)


def test_fast_hull_decides_like_the_domain(sim, predictor):
    rng = np.random.default_rng(RANDOM_STATE)
    domain = predictor.domain
    fluxes = sim[list(WISE_FLUX_COLUMNS)].to_numpy(dtype=float)
    # Real rows, rows jittered across the hull surface, and invalid ones.
    jitter = fluxes * 10 ** rng.normal(0, 0.3, fluxes.shape)
    odd = fluxes[:50].copy()
    odd[::3, 0] = np.nan
    odd[1::3, 2] = 0.0
    X = pd.DataFrame(np.vstack([fluxes, jitter, odd]), columns=list(WISE_FLUX_COLUMNS))
    expected = domain.contains(X)
    hull = batch.FastHull(domain)
    got = hull.contains(X)
    assert np.array_equal(got, expected)
    assert 0 < expected.sum() < len(X) and len(hull.screen) > 0
    assert np.array_equal(hull.contains(X.iloc[::-1]), expected[::-1])  # screen reused


def test_fast_hull_decides_like_the_domain_at_the_surface(predictor):
    # Points within the float32 rounding margin of a facet are recomputed in float64: the
    # hull's vertices nudged along a facet normal by less and more than ``tol``.
    domain = predictor.domain
    normals, offsets = domain.equations_[:, :-1], domain.equations_[:, -1]
    pts = []
    for v in domain.vertices_:
        facet = int(np.argmin(np.abs(normals @ v + offsets)))
        for step in (-1e-6, -1e-9, 0.0, 0.5e-9, 1.5e-9, 3e-9, 1e-7, 1e-6):
            pts.append(v + step * normals[facet])
    X = 10 ** np.asarray(pts)
    expected = domain.contains(X)
    hull = batch.FastHull(domain)
    assert hull.margin > 1e-7  # every nudged point above falls in the doubtful band
    assert np.array_equal(hull.contains(X), expected)
    assert 0 < expected.sum() < len(X)


@pytest.mark.slow
def test_lean_forest_reports_accuracy_change_and_recalibrates(sim, predictor):
    result = lean_forest(
        predictor, sim, candidates=((10, 3, None), (5, 5, 4)), max_r2_loss=0.002,
        random_state=RANDOM_STATE,
    )
    t = result.table
    assert t["n_estimators"].tolist() == [40, 10, 5]
    assert t["delta_r2"].iloc[0] == 0.0
    np.testing.assert_allclose(t["delta_r2"], t["r2"] - t["r2"].iloc[0])
    assert t["chosen"].sum() == 1 and t.loc[t["chosen"], "accepted"].all()
    assert (t.loc[t["accepted"], "delta_r2"] >= -0.002).all()
    chosen = result.predictor
    n_est = int(t.loc[t["chosen"], "n_estimators"].iloc[0])
    assert chosen.regressor.get_params()["n_estimators"] == n_est
    # The interval of the chosen forest is calibrated on that forest, not copied.
    assert chosen.card["interval_coverage"]["coverage"] is not None
    with pytest.raises(ModelError, match="max_r2_loss must be a number >= 0; got -1"):
        lean_forest(predictor, sim, max_r2_loss=-1)


# ------------------------------------------------------------------ Dask / lsdb
@pytest.mark.slow
def test_dask_paths_equal_the_single_process_path(sim, predictor, tmp_path):
    lsdb = pytest.importorskip("lsdb")
    distributed = pytest.importorskip("distributed")
    cloudpickle = pytest.importorskip("cloudpickle")

    rows = sim.iloc[:1200].reset_index(drop=True)
    lsdb.from_dataframe(
        rows, ra_column="ra", dec_column="dec", partition_rows=300, margin_threshold=None
    ).write_catalog(tmp_path / "hats", catalog_name="sim", progress_bar=False,
                    should_write_skymap=False, create_per_partition_statistics=False)
    catalog = lsdb.read_hats(tmp_path / "hats")
    assert catalog.npartitions > 1
    single = predictor.predict_catalog(rows).set_index("objid")
    rows.to_parquet(tmp_path / "in.parquet")
    predict_file(predictor, tmp_path / "in.parquet", tmp_path / "local.parquet",
                 chunksize=300, fast=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                           dashboard_address=None, silence_logs=40)
    try:
        with distributed.Client(cluster) as client:
            lazy = predict_dask(predictor, catalog, client=client)
            # The model travels as one scattered future, not inside every task.
            graph = cloudpickle.dumps(dict(lazy.to_dask_dataframe().__dask_graph__()))
            assert len(graph) < len(pickle.dumps(predictor))
            got = lazy.compute().set_index("objid").loc[single.index]
        summary = predict_file(predictor, tmp_path / "in.parquet", tmp_path / "dask.parquet",
                               chunksize=300, engine="dask", scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert len(got) == len(single)
    assert (got[OUT[3]].to_numpy() == single[OUT[3]].to_numpy()).all()
    for col in OUT[:3]:
        assert _log_diff(got[col], single[col]) < 1e-6
    assert summary.rows_out == len(rows)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask.parquet"),
                                  pd.read_parquet(tmp_path / "local.parquet"))


def test_predict_chunk_keeps_index_and_does_not_touch_the_input(sim, predictor):
    rows = sim.iloc[100:160]
    before = rows.copy()
    out = predict_chunk(predictor, rows)
    pd.testing.assert_frame_equal(rows, before)
    assert out.index.equals(rows.index) and list(out.columns) == list(rows.columns) + OUT
    assert batch.status_totals(out)["ok"] == int((out[OUT[3]] == "ok").sum())
