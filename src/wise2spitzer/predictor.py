"""The trained bundle that turns a WISE catalogue into Spitzer fluxes.

:class:`SpitzerPredictor` packs what the method of Fonseca-Bonilla et al. (2024) needs at
prediction time: the feature set, the convex-hull applicability domain of the labelled
training rows, the fitted :class:`~wise2spitzer.model.FluxRegressor` and a model card that
says how it was made. It predicts catalogue chunks of any size, keeping every input row and
saying why a row got no prediction, and it saves to / loads from a skops file without
trusting anything outside the exact types a model file holds.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ModelError
from .schema import (
    STATUS_BAD_VALUE,
    STATUS_EXTRAPOLATED,
    STATUS_MISSING_FEATURE,
    STATUS_OK,
    STATUS_OUTSIDE_DOMAIN,
    STATUS_OUTSIDE_SAMPLE,
    WISE_FLUX_COLUMNS,
    Target,
    get_target,
    output_columns,
)

__all__ = ["SpitzerPredictor"]

# Larger numbers overflow the float32 the trees read: such a value is bad, not usable.
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# Packages whose versions the model card records.
_PACKAGES = ("wise2spitzer", "numpy", "pandas", "scikit-learn", "lightgbm", "boruta",
             "quantile-forest", "skops")
# Fewest labelled rows a predictor is trained on.
_MIN_TRAIN_ROWS = 10


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _data_sha256(X: pd.DataFrame, y: pd.Series) -> str:
    """Hash of the training values (feature names + float64 bytes), independent of the index."""
    h = hashlib.sha256()
    h.update(",".join(map(str, X.columns)).encode())
    h.update(b"|" + str(y.name).encode() + b"|")
    h.update(np.ascontiguousarray(X.to_numpy(dtype=float)).tobytes())
    h.update(np.ascontiguousarray(y.to_numpy(dtype=float)).tobytes())
    return h.hexdigest()


def _plain(value: Any) -> Any:
    """Card values as plain Python types, so the card saves as JSON and skops trusts it."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _fit_domain(fluxes: pd.DataFrame):
    """The convex-hull applicability domain of the training rows' WISE fluxes."""
    from .domain import ConvexHullDomain

    domain = ConvexHullDomain(columns=WISE_FLUX_COLUMNS)
    domain.fit(fluxes.apply(pd.to_numeric))
    return domain


def _fit_zone(reg, fluxes: pd.DataFrame):
    """The extrapolation zone of a fitted regressor, or None without conformal calibration.

    Built from the conformal calibration's folds and out-of-fold scores (see
    :mod:`wise2spitzer.extrapolation`); other interval methods keep every row outside the
    hull ``outside_domain``.
    """
    from .domain import log_fluxes
    from .extrapolation import ExtrapolationZone

    if "conformal" not in getattr(reg, "interval_methods_", ()) or not hasattr(reg, "oof_fold_"):
        return None
    zone = ExtrapolationZone(confidence=float(reg.confidence),
                             tails=getattr(reg, "conformal_tails", "separate"))
    return zone.fit(log_fluxes(fluxes.apply(pd.to_numeric)), reg.oof_fold_, reg.oof_score_)


def _tune_and_score(reg, X: pd.DataFrame, y: pd.Series, *, preset: str, test_size,
                    random_state, n_jobs, progress) -> tuple[dict[str, float], dict | None]:
    """Tune ``reg`` in place on the train split, then score a copy on the test split.

    Returns the test metrics and the interval coverage (``{}`` and None when ``test_size``
    is None or 0: the search then sees every row and nothing is scored).
    """
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from .evaluation import regression_metrics
    from .training import interval_stats, tuned_params

    if test_size:
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=test_size, random_state=random_state)
    else:
        X_tr, y_tr = X, y
    reg.set_params(**tuned_params(X_tr, y_tr, base=reg, preset=preset,
                                  random_state=random_state, n_jobs=n_jobs,
                                  progress=progress))
    if not test_size:
        return {}, None
    if progress:
        progress(f"scoring on the test split ({len(X_te)} rows)")
    scored = clone(reg).fit(X_tr, y_tr)
    metrics = regression_metrics(y_te, scored.predict(X_te))
    cov, width = interval_stats(y_te, scored.predict_interval(X_te))
    coverage = {"confidence": reg.get_params().get("confidence"),
                "coverage": cov, "width_dex": width, "n": len(X_te)}
    return metrics, coverage


#: Fewest non-clean training rows for a calibration of their own (at 95%, 100 scores put
#: each tail's quantile between the 2nd and 3rd most extreme score).
_MIN_NONCLEAN_ROWS = 100


def _nonclean_scores(reg, rows: pd.DataFrame, sample: str) -> list | None:
    """Per-bin conformity scores of the non-clean training rows (see ``for_nonclean_rows``)."""
    from .model.intervals import subset_scores
    from .samples import CLEAN, clean_mask, has_clean_flags

    scores = getattr(reg, "oof_score_", None)
    if sample == CLEAN or scores is None or not has_clean_flags(rows):
        return None
    if getattr(reg, "conformal_score_", "spread") != "spread" or len(scores) != len(rows):
        return None
    nonclean = ~clean_mask(rows).to_numpy(dtype=bool)
    if nonclean.sum() < _MIN_NONCLEAN_ROWS or nonclean.all():
        return None
    return subset_scores(reg, nonclean)


def _model_card(predictor: SpitzerPredictor, X: pd.DataFrame, y: pd.Series, *, preset: str,
                coverage, metrics, test_size, random_state) -> dict[str, Any]:
    """How ``predictor`` was made, as plain JSON-able values (see :meth:`SpitzerPredictor.fit`)."""
    p = predictor
    reg = p.regressor
    t = p.target
    selected = getattr(reg, "selected_features_", None)
    return _plain({
        "target": t.key,
        "target_column": t.column,
        "sample": p.sample,
        "feature_set": p.feature_set,
        "features": p.features,
        "features_selected": list(selected) if selected is not None else None,
        "n_train": len(X),
        "training_data_sha256": _data_sha256(X, y),
        "preset": preset,
        "hyperparameters": reg.get_params(deep=False),
        "form": reg.get_params().get("form"),
        "interval_method": reg.get_params().get("interval_method"),
        "interval_coverage": coverage,
        "test_metrics": metrics,
        "test_size": test_size,
        "random_state": random_state,
        "versions": {name: _version(name) for name in _PACKAGES},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    })


class SpitzerPredictor:
    """A trained WISE -> Spitzer flux predictor for one target band.

    Build it with :meth:`fit` or :meth:`load`; use :meth:`predict_catalog` on any table in
    SEIP conventions (fluxes in uJy).

    Attributes
    ----------
    target : Target
        The predicted band (``.key`` is "mips1" or "irac4").
    sample : str
        Training sample ("clean", "unclean" or "all").
    feature_set : str
        Key of :data:`~wise2spitzer.features.FEATURE_SETS`.
    features : list of str
        Feature columns given to the regressor.
    input_columns : list of str
        Catalogue columns a table needs to be predicted.
    domain : ConvexHullDomain
        Hull of the labelled training rows in log W1..W4.
    extrapolation : ExtrapolationZone or None
        Rows just outside the hull that still get a value (status ``extrapolated``), with
        their own calibration; None for models without conformal calibration or saved before
        the zone existed.
    regressor : FluxRegressor
        Fitted on every labelled row of the sample.
    card : dict
        How the model was made (see :meth:`fit`).

    Examples
    --------
    Train on the simulated catalogue (a small, untuned forest to keep the example quick),
    then predict an astropy Table whose fluxes are in mJy: they are read as uJy, and the
    answer is a Table with the predictions in uJy, masked where there is none.

    >>> import astropy.units as u
    >>> from astropy.table import Table
    >>> from wise2spitzer.datasets import simulate_seip
    >>> df = simulate_seip(3000, random_state=0)
    >>> p = SpitzerPredictor().fit(df, target="mips1", preset="none", n_estimators=20,
    ...                            conformal_cv=2, test_size=None, random_state=0)
    >>> p
    SpitzerPredictor(target='mips1', sample='clean', feature_set='paper+colours', n_train=115)
    >>> table = Table.from_pandas(df.head(200))
    >>> for c in ("wise1", "wise2", "wise3", "wise4"):
    ...     table[c] = table[c] / 1000 * u.mJy
    >>> out = p.predict_catalog(table)
    >>> out["m1_f_pred"].unit
    Unit("uJy")
    >>> sorted(set(out["m1_pred_status"].tolist()))
    ['ok', 'outside_domain', 'outside_sample', 'upper_limit']
    """

    def __init__(self) -> None:
        # The target is kept as its key (a plain str) so the skops file holds no dataclass.
        self.target_key: str | None = None
        self.sample: str | None = None
        self.feature_set: str | None = None
        self.features: list[str] = []
        self.input_columns: list[str] = []
        self.domain = None
        self.extrapolation = None
        #: Detection floor (uJy) and margin of the upper-limit rule (None: no rule, as in
        #: model files saved before it existed); see :mod:`wise2spitzer.detection`.
        self.detection_floor: float | None = None
        self.detection_margin: float | None = None
        #: Conformal scores of the training rows that are not clean, per flux bin (None for a
        #: clean-sample model, a model without the flags, or an older file): a bundle whose
        #: clean model answers the clean rows calibrates this model on the rest only.
        self.nonclean_calibration: list | None = None
        self.regressor = None
        self.card: dict[str, Any] = {}

    def __repr__(self) -> str:
        if self.regressor is None:
            return "SpitzerPredictor(unfitted)"
        return (f"SpitzerPredictor(target={self.target.key!r}, sample={self.sample!r}, "
                f"feature_set={self.feature_set!r}, n_train={self.card.get('n_train')})")

    # ------------------------------------------------------------------ training
    def fit(
        self,
        df: pd.DataFrame,
        *,
        target: str | Target,
        sample: str = "clean",
        feature_set: str | None = None,
        form: str | None = None,
        preset: str = "fast",
        interval_method: str = "conformal",
        random_state=None,
        n_jobs: int | None = 1,
        test_size: float | None = 0.2,
        progress=None,
        extrapolate: bool = False,
        detection_margin: float | None = None,
        **regressor_params: Any,
    ) -> SpitzerPredictor:
        """Train on the labelled rows of ``sample``.

        Steps (the paper's): select the sample; keep rows with the target flux measured and
        every feature measured; fit the convex-hull domain on their log W1..W4; split 80/20,
        tune the hyper-parameters on the 80% (``preset``), score the tuned regressor on the 20%
        (metrics and interval coverage go into :attr:`card`); refit on all the rows.

        Parameters
        ----------
        df : pandas.DataFrame or astropy.table.Table
            Catalogue in SEIP conventions: a DataFrame's fluxes in uJy; a Table's flux
            columns in any flux-density unit (a column without a unit is read as uJy; a
            magnitude is refused), see :func:`wise2spitzer.tables.as_frame`.
        target : {"mips1", "irac4"}
        sample : {"clean", "unclean", "all"}, default "clean"
        feature_set : str, optional
            Default: the richest set ``df`` supports.
        form : {"paper", "ratio"}, optional
            Target form of :class:`~wise2spitzer.model.FluxRegressor`; None means
            :data:`~wise2spitzer.training.DEFAULT_FORM` ("ratio", measured better; "paper"
            reproduces Fonseca-Bonilla et al.).
        preset : {"fast", "paper", "none"}, default "fast"
            Hyper-parameter search; "none" keeps the defaults / ``regressor_params``.
        interval_method : {"conformal", "tree_sem", "qrf"}, default "conformal"
        random_state : int or None
            Seeds the split, the search and the regressor: same seed, same model.
        n_jobs : int, default 1
        test_size : float or None, default 0.2
            Held-out fraction scored before the final refit; None or 0 skips scoring.
        progress : callable, optional
            Called with a short text before each long step.
        extrapolate : bool, default False
            Also fit the extrapolation zone (:mod:`wise2spitzer.extrapolation`): rows just
            outside the hull then get a value with status ``extrapolated``. Off by default:
            held-out labelled rows in the zone are covered at the nominal level, but on the
            simulation never-labelled rows there (fainter than the training sample's
            detection limit) are not; see ``docs/extrapolation.md``.
        detection_margin : float, optional
            Rows whose interval's lower bound falls below ``detection_margin`` times the
            training sample's detection floor (its 1% faintest Spitzer flux) get status
            ``upper_limit``: only the upper bound is issued (:mod:`wise2spitzer.detection`).
            Default: the margin measured for the target (MIPS1 5, IRAC4 1); 0 turns it off.
        **regressor_params
            Extra :class:`~wise2spitzer.model.FluxRegressor` parameters.

        Returns
        -------
        self

        Raises
        ------
        ModelError
            On a bad ``sample``/``preset`` or too few labelled rows.
        CatalogError
            If the table lacks the columns of the sample or feature set, or a Table's flux
            column has a magnitude or non-flux unit.

        Examples
        --------
        >>> from wise2spitzer.datasets import simulate_seip
        >>> df = simulate_seip(3000, random_state=0)
        >>> p = SpitzerPredictor().fit(df, target="irac4", sample="unclean", preset="none",
        ...                            n_estimators=20, conformal_cv=2, boruta_max_iter=10,
        ...                            random_state=0)
        >>> p.card["sample"], p.n_train
        ('unclean', 1966)
        >>> sorted(p.card["test_metrics"])
        ['mae', 'mape', 'mape_linear', 'r2', 'rmse']
        >>> p.card["interval_coverage"]["n"]
        394
        """
        from .detection import FLOOR_QUANTILE, check_margin, default_margin, detection_floor
        from .samples import SAMPLES
        from .tables import as_frame
        from .training import make_regressor, training_table
        from .tuning import check_tuning_preset

        df = as_frame(df)
        t = get_target(target)
        if sample not in SAMPLES:
            raise ModelError(f"sample must be one of {list(SAMPLES)}; got {sample!r}")
        check_tuning_preset(preset)
        try:
            margin = check_margin(default_margin(t) if detection_margin is None
                                  else detection_margin)
        except ValueError as exc:
            raise ModelError(str(exc)) from None
        if progress:
            progress(f"selecting labelled {sample!r} rows for {t.key}")
        X, y, feature_set = training_table(df, target=t, sample=sample, feature_set=feature_set)
        if len(X) < _MIN_TRAIN_ROWS:
            raise ModelError(
                f"only {len(X)} labelled rows in sample {sample!r} for {t.key!r}; "
                f"need >= {_MIN_TRAIN_ROWS}"
            )
        domain = _fit_domain(df.loc[X.index, list(WISE_FLUX_COLUMNS)])
        reg = make_regressor(t, form=form, random_state=random_state, n_jobs=n_jobs,
                             interval_method=interval_method, **regressor_params)
        metrics, coverage = _tune_and_score(reg, X, y, preset=preset, test_size=test_size,
                                            random_state=random_state, n_jobs=n_jobs,
                                            progress=progress)
        if progress:
            progress(f"fitting on all {len(X)} labelled rows")
        reg.fit(X, y)
        self._set_fitted(t, sample=sample, feature_set=feature_set, X=X, domain=domain, reg=reg)
        self.extrapolation = (_fit_zone(reg, df.loc[X.index, list(WISE_FLUX_COLUMNS)])
                              if extrapolate else None)
        self.detection_floor = detection_floor(y)
        self.detection_margin = margin
        self.nonclean_calibration = _nonclean_scores(reg, df.loc[X.index], sample)
        self.card = _model_card(self, X, y, preset=preset, coverage=coverage, metrics=metrics,
                                test_size=test_size, random_state=random_state)
        zone = self.extrapolation
        if zone is not None:
            self.card["extrapolation"] = _plain({
                "heldout_outside_hull": zone.n_outside_, "max_distance": zone.max_distance_,
                "distance_level": zone.level_, "n_calibration": len(zone.scores_)})
        if self.nonclean_calibration is not None:
            self.card["nonclean_calibration_rows"] = int(
                sum(len(v) for v in self.nonclean_calibration))
        self.card["detection_limit"] = _plain({
            "floor_ujy": self.detection_floor, "floor_quantile": FLOOR_QUANTILE,
            "margin": margin, "upper_limit_below_ujy": margin * self.detection_floor})
        return self

    def _set_fitted(self, t: Target, *, sample: str, feature_set: str, X: pd.DataFrame,
                    domain, reg) -> None:
        """Hold the trained pieces (the card is made from them)."""
        from .features import required_columns

        self.target_key = t.key
        self.sample = sample
        self.feature_set = feature_set
        self.features = list(X.columns)
        self.input_columns = list(dict.fromkeys(
            list(WISE_FLUX_COLUMNS) + list(required_columns(feature_set))))
        self.domain = domain
        self.regressor = reg

    @property
    def target(self) -> Target | None:
        """The predicted band (:class:`~wise2spitzer.schema.Target`)."""
        return None if self.target_key is None else get_target(self.target_key)

    @property
    def n_train(self) -> int | None:
        """Number of labelled rows the final model was fitted on."""
        return self.card.get("n_train")

    def _check_fitted(self) -> None:
        if self.regressor is None:
            raise ModelError("this SpitzerPredictor is not fitted; call fit() or load() first")

    # ---------------------------------------------------------------- prediction
    def row_status(self, df: pd.DataFrame) -> np.ndarray:
        """Status of every row of ``df`` before prediction (:data:`~wise2spitzer.schema.STATUSES`).

        In order of precedence: ``bad_value``, a negative or infinite number, a number too
        large for the float32 the trees read (> 3.4e38, e.g. 1e300 in ``wise#rchi2``), or a
        non-numeric entry; ``missing_feature``, a needed column is absent (every row) or its
        value is NaN, or a flux is 0 (SEIP's "not measured"); ``outside_sample``, the row is
        not in the sample the model was trained on (for a clean-sample model:
        ``ext_flg != 0``, ``cc_flags != '0000'``, or those flags missing), so its interval
        was never calibrated on rows like it; ``outside_domain``, outside the training hull
        and beyond the extrapolation zone; ``extrapolated``, outside the hull but within the
        zone (:attr:`extrapolation`); else ``ok``.
        """
        self._check_fitted()
        n = len(df)
        status = np.full(n, STATUS_OK, dtype=object)
        absent = [c for c in self.input_columns if c not in df.columns]
        if absent:
            warnings.warn(
                f"the table lacks column(s) {absent} needed by the {self.target.key} model "
                f"(feature set {self.feature_set!r}); every row gets status "
                f"{STATUS_MISSING_FEATURE!r}",
                UserWarning,
                stacklevel=3,
            )
            status[:] = STATUS_MISSING_FEATURE
            return status
        missing = np.zeros(n, dtype=bool)
        bad = np.zeros(n, dtype=bool)
        # Plain numpy numeric columns (the usual case) are checked together as one block:
        # there a null is exactly a NaN and no text can hide.
        dtypes = [df[c].dtype for c in self.input_columns]
        plain = [
            c
            for c, dt in zip(self.input_columns, dtypes, strict=True)
            if isinstance(dt, np.dtype) and dt.kind in "fiu"
        ]
        if plain:
            block = df[plain].to_numpy(dtype=float)
            isnan = np.isnan(block)
            missing |= isnan.any(axis=1)
            with np.errstate(invalid="ignore"):
                bad |= (np.isinf(block) | (block < 0) | (block > _FLOAT32_MAX)).any(axis=1)
            flux = [i for i, c in enumerate(plain) if c in WISE_FLUX_COLUMNS]
            if flux:
                missing |= (block[:, flux] == 0).any(axis=1)
        for col in self.input_columns:
            if col in plain:
                continue
            raw = df[col]
            num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            was_null = raw.isna().to_numpy()
            bad |= np.isnan(num) & ~was_null  # text that is not a number
            bad |= np.isinf(num) | (num < 0) | (num > _FLOAT32_MAX)
            missing |= was_null
            if col in WISE_FLUX_COLUMNS:
                # 0 flux means "not measured" in SEIP; a 0 count (wise#nm) is a real value.
                missing |= num == 0
        status[missing] = STATUS_MISSING_FEATURE
        status[bad] = STATUS_BAD_VALUE
        status[(status == STATUS_OK) & ~self.sample_membership(df)] = STATUS_OUTSIDE_SAMPLE
        ok = status == STATUS_OK
        if ok.any():
            cols = list(WISE_FLUX_COLUMNS)
            if all(c in plain for c in cols):
                # The block read above already holds them as floats.
                idx = [plain.index(c) for c in cols]
                fluxes = pd.DataFrame(block[np.ix_(ok, idx)], columns=cols)
            else:
                fluxes = df.loc[ok, cols].apply(pd.to_numeric, errors="coerce")
            inside = np.asarray(self.domain.contains(fluxes), dtype=bool)
            idx = np.flatnonzero(ok)
            status[idx[~inside]] = STATUS_OUTSIDE_DOMAIN
            zone = self.zone
            if zone is not None and not inside.all():
                from .domain import log_fluxes

                near = zone.within(self.domain, log_fluxes(fluxes.to_numpy()[~inside]))
                status[idx[~inside][near]] = STATUS_EXTRAPOLATED
        return status

    @property
    def zone(self):
        """The active extrapolation zone, or None (no zone, or an empty one)."""
        zone = getattr(self, "extrapolation", None)
        return zone if zone is not None and zone.active else None

    def extrapolated_values(self, X: pd.DataFrame, *, confidence: float = 0.95):
        """Value and interval (uJy: three arrays) of rows in the extrapolation zone.

        The forest's mean (one walk of the trees gives it and the spread), and the
        regressor's conformal normaliser with the zone's own quantiles, calibrated on
        held-out rows that fell outside their fold's hull.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows (:attr:`features`) of rows whose status is ``extrapolated``.
        confidence : float, default 0.95
        """
        from .model.intervals import conformal_bounds, conformal_scale

        if self.zone is None:
            raise ModelError("this model has no extrapolation zone; no row is extrapolated")
        reg = self.regressor
        Xt, offset = reg.model_inputs(X)
        mu, sigma = reg.prediction_moments(Xt)
        q_lo, q_hi = self.zone.quantiles(confidence)
        q = np.tile([q_lo, q_hi], (len(Xt), 1))
        bounds = conformal_bounds(mu + offset, q, conformal_scale(reg, Xt, mu + offset, sigma))
        flux = np.power(10.0, np.column_stack([mu + offset, bounds]))
        return flux[:, 0], flux[:, 1], flux[:, 2]

    def sample_membership(self, df: pd.DataFrame) -> np.ndarray:
        """Whether each row of ``df`` belongs to the sample the model was trained on.

        A clean-sample model needs the AllWISE flags (``ext_flg``, ``cc_flags``): without
        them no row can be shown to be clean, so every row is outside the sample (with a
        warning naming the columns). Rows of other samples are decided by
        :func:`~wise2spitzer.samples.sample_mask`.
        """
        from .samples import CLEAN, CLEAN_FLAG_COLUMNS, has_clean_flags, sample_mask

        self._check_fitted()
        if self.sample == CLEAN and not has_clean_flags(df):
            absent = [c for c in CLEAN_FLAG_COLUMNS if c not in df.columns]
            warnings.warn(
                f"the table lacks column(s) {absent}, so no row can be shown to be in the "
                f"clean sample the {self.target.key} model was trained on; every row gets "
                f"status {STATUS_OUTSIDE_SAMPLE!r} (use a model of the unclean sample, or a "
                "bundle with both)",
                UserWarning,
                stacklevel=4,
            )
            return np.zeros(len(df), dtype=bool)
        return sample_mask(df, self.sample).to_numpy(dtype=bool)

    def predict_catalog(
        self,
        df: pd.DataFrame,
        *,
        confidence: float = 0.95,
        method: str | None = None,
    ) -> pd.DataFrame:
        """Every input row, same order and index, with the four output columns appended.

        Parameters
        ----------
        df : pandas.DataFrame or astropy.table.Table
            A catalogue chunk of any size (0 rows included) in SEIP conventions: a
            DataFrame's fluxes in uJy, a Table's in any flux-density unit
            (:func:`wise2spitzer.tables.as_frame`).
        confidence : float, default 0.95
            Confidence level of the interval.
        method : {"conformal", "tree_sem", "qrf"}, optional
            Interval method; default the one the model was trained with.

        Returns
        -------
        pandas.DataFrame or astropy.table.Table
            A copy of ``df`` (of its kind) with ``<p>_f_pred``, ``<p>_f_pred_lo``,
            ``<p>_f_pred_hi`` (uJy; NaN, or masked in a Table, without a prediction) and
            ``<p>_pred_status`` (see :meth:`row_status`).

        Warns
        -----
        UserWarning
            If a needed column is absent (every row is then ``missing_feature``), or if the
            WISE fluxes lie orders of magnitude outside the training range, as fluxes in mJy
            or Jy would (:func:`wise2spitzer.tables.check_flux_scale`).

        Raises
        ------
        ModelError
            If the predictor is not fitted or ``confidence`` is not in (0, 1).
        CatalogError
            If a Table's flux column has a magnitude or non-flux unit.

        Examples
        --------
        >>> from wise2spitzer.datasets import simulate_seip
        >>> df = simulate_seip(3000, random_state=0)
        >>> p = SpitzerPredictor().fit(df, target="mips1", preset="none", n_estimators=20,
        ...                            conformal_cv=2, test_size=None, random_state=0)
        >>> out = p.predict_catalog(df, confidence=0.9)
        >>> out["m1_pred_status"].value_counts().to_dict()
        {'outside_sample': 1950, 'outside_domain': 759, 'upper_limit': 187, 'ok': 104}
        >>> ok = out[out["m1_pred_status"] == "ok"]
        >>> bool(((ok["m1_f_pred_lo"] < ok["m1_f_pred"])
        ...       & (ok["m1_f_pred"] < ok["m1_f_pred_hi"])).all())
        True
        """
        from .tables import as_frame, check_flux_scale, like_input

        self._check_fitted()
        if not 0 < confidence < 1:
            raise ModelError(f"confidence must lie in (0, 1); got {confidence!r}")
        data, df = df, as_frame(df)
        cols = output_columns(self.target)
        status = self.status_for_method(self.row_status(df), method)
        check_flux_scale(df, self.domain, model=f"the {self.target.key} model")
        pred = np.full(len(df), np.nan)
        lo = np.full(len(df), np.nan)
        hi = np.full(len(df), np.nan)
        ok = status == STATUS_OK
        if ok.any():
            X = self._feature_rows(df, ok)
            # One vectorised call per quantity over all ok rows: the forest's cost is per call.
            pred[ok] = self.regressor.predict(X)
            iv = np.asarray(self.regressor.predict_interval(
                X, confidence=confidence, method=method), dtype=float)
            lo[ok], hi[ok] = iv[:, 0], iv[:, 1]
        status = self.finish_values(status, pred, lo, hi, confidence=confidence,
                                    feature_rows=lambda rows: self._feature_rows(df, rows))
        out = df.copy()
        out[cols["pred"]] = pred
        out[cols["lo"]] = lo
        out[cols["hi"]] = hi
        # Positional arrays, not Series: a chunk may carry a duplicated index.
        out[cols["status"]] = pd.array(status, dtype="str")
        return like_input(out, data, columns=cols.values())

    def predict(self, df: pd.DataFrame):
        """The predicted flux of every row of ``df`` (uJy), without the interval.

        Parameters
        ----------
        df : pandas.DataFrame or astropy.table.Table
            As for :meth:`predict_catalog`.

        Returns
        -------
        pandas.Series or astropy.table.MaskedColumn
            ``<p>_f_pred``: for a DataFrame a Series with its index (NaN without a
            prediction), for a Table a column in uJy (masked without a prediction). Why a
            row has none is in :meth:`row_status`.

        Examples
        --------
        >>> from wise2spitzer.datasets import simulate_seip
        >>> df = simulate_seip(3000, random_state=0)
        >>> p = SpitzerPredictor().fit(df, target="mips1", preset="none", n_estimators=20,
        ...                            conformal_cv=2, test_size=None, random_state=0)
        >>> flux = p.predict(df)
        >>> flux.name, int(flux.notna().sum())
        ('m1_f_pred', 102)
        """
        return self.predict_catalog(df)[output_columns(self.target)["pred"]]

    def predict_interval(self, df: pd.DataFrame, *, confidence: float = 0.95,
                         method: str | None = None):
        """The prediction interval of every row of ``df`` (uJy).

        Parameters
        ----------
        df : pandas.DataFrame or astropy.table.Table
            As for :meth:`predict_catalog`.
        confidence : float, default 0.95
            Confidence level of the interval.
        method : {"conformal", "tree_sem", "qrf"}, optional
            Interval method; default the one the model was trained with.

        Returns
        -------
        pandas.DataFrame or astropy.table.Table
            Columns ``<p>_f_pred_lo`` and ``<p>_f_pred_hi`` (uJy), one row per input row
            (a DataFrame keeps the index); NaN, or masked in a Table, without a prediction.

        Examples
        --------
        >>> from wise2spitzer.datasets import simulate_seip
        >>> df = simulate_seip(3000, random_state=0)
        >>> p = SpitzerPredictor().fit(df, target="mips1", preset="none", n_estimators=20,
        ...                            conformal_cv=2, test_size=None, random_state=0)
        >>> iv = p.predict_interval(df, confidence=0.68).dropna()
        >>> list(iv.columns), bool((iv["m1_f_pred_lo"] < iv["m1_f_pred_hi"]).all())
        (['m1_f_pred_lo', 'm1_f_pred_hi'], True)
        """
        cols = output_columns(self.target)
        return self.predict_catalog(df, confidence=confidence,
                                    method=method)[[cols["lo"], cols["hi"]]]

    def _feature_rows(self, df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
        """The model's feature columns for the rows of ``df`` selected by ``mask``."""
        from .features import build_features

        rows = df.loc[mask, self.input_columns].apply(pd.to_numeric, errors="coerce")
        return build_features(rows, self.feature_set)[self.features]

    def finish_values(self, status: np.ndarray, pred: np.ndarray, lo: np.ndarray,
                      hi: np.ndarray, *, confidence: float, feature_rows) -> np.ndarray:
        """What every prediction path does after the in-hull values; the final status.

        Fills the rows of the extrapolation zone (:meth:`extrapolated_values`, few rows,
        one walk of the trees), then applies the detection floor (:meth:`limit_to_detection`).
        ``feature_rows(mask)`` gives the feature rows of the rows selected by ``mask`` (each
        path builds them its own way).
        """
        near = status == STATUS_EXTRAPOLATED
        if near.any():
            pred[near], lo[near], hi[near] = self.extrapolated_values(
                feature_rows(near), confidence=confidence)
        return self.limit_to_detection(status, pred, lo, hi)

    def limit_to_detection(self, status: np.ndarray, pred: np.ndarray, lo: np.ndarray,
                           hi: np.ndarray) -> np.ndarray:
        """``status`` with rows near the detection floor turned ``upper_limit``.

        Their ``pred`` and ``lo`` become NaN in place; ``hi`` stays as the upper limit
        (:func:`wise2spitzer.detection.apply_detection_limit`). A model saved before the rule
        existed has no floor and changes nothing.
        """
        from .detection import apply_detection_limit

        floor = getattr(self, "detection_floor", None)
        margin = getattr(self, "detection_margin", None)
        if floor is None or margin is None:
            return status
        return apply_detection_limit(status, pred, lo, hi, floor=floor, margin=margin)

    def for_nonclean_rows(self) -> SpitzerPredictor:
        """This predictor with its conformal interval calibrated on its non-clean rows only.

        A bundle's clean model answers the clean rows, so its unclean model answers only the
        others; its training sample holds both, and the clean rows, less contaminated, have
        smaller scores, so a quantile of all of them under-covers the rows it answers. The
        view shares the forest; only the calibration scores differ. Without
        :attr:`nonclean_calibration` (a clean-sample model, a catalogue without the flags,
        fewer than 100 such rows, an older file), the predictor itself.
        """
        import copy

        scores = getattr(self, "nonclean_calibration", None)
        if scores is None:
            return self
        view = copy.copy(self)
        view.regressor = copy.copy(self.regressor)
        view.regressor.conformity_scores_ = scores
        view.nonclean_calibration = None
        return view

    def status_for_method(self, status: np.ndarray, method: str | None) -> np.ndarray:
        """``status`` with ``extrapolated`` turned ``outside_domain`` for a non-conformal method.

        The zone's calibration is conformal; with another interval method (``tree_sem``,
        ``qrf``) no interval calibrated for those rows exists, so they get no value.
        """
        chosen = method if method is not None else getattr(self.regressor, "interval_method_",
                                                            None)
        if chosen != "conformal":
            status = np.where(status == STATUS_EXTRAPOLATED, STATUS_OUTSIDE_DOMAIN, status)
        return status

    # --------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the predictor to ``path`` with :func:`skops.io.dump` (no pickle), atomically."""
        from .modelfile import save_model

        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> SpitzerPredictor:
        """Read a predictor written by :meth:`save`, trusting nothing in the file.

        Only the exact types a model file holds are accepted
        (:data:`~wise2spitzer.modelfile.MODEL_FILE_TYPES`, never whole modules or functions),
        and what was loaded is validated before use (classes, attributes, target and
        features, every tree's node arrays): see :mod:`wise2spitzer.modelfile`.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a file.
        ModelError
            If the file is not a skops file, holds a type outside the allow-list or is not a
            valid, fitted :class:`SpitzerPredictor`.
        """
        from .modelfile import load_predictor

        return load_predictor(path)
