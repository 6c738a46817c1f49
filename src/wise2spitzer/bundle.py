"""One model file for a survey's needs: both bands, each row answered by the right sample's model.

A :class:`SpitzerPredictor` is trained on one sample and promises its interval only for rows of
that sample (other rows get ``outside_sample``). A :class:`PredictorBundle` holds several
predictors, for one or more targets and samples, and gives every row, for every target, the
estimate of the most specific model whose sample contains it: clean rows from the clean
model, other rows with a W4 value from the unclean model, rows of neither from the widest
model (whose status then says why there is no value). A ``<p>_pred_model`` column names the
sample of the model that answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ModelError
from .schema import get_target, output_columns

__all__ = ["SAMPLE_PRIORITY", "BundleRunner", "PredictorBundle", "model_column"]

#: Most specific sample first: a row is answered by the first of these whose model it fits.
SAMPLE_PRIORITY: tuple[str, ...] = ("clean", "unclean", "all")


def model_column(target) -> str:
    """Name of the column saying which sample's model answered, e.g. ``m1_pred_model``."""
    return f"{get_target(target).prefix}_pred_model"


class PredictorBundle:
    """Several fitted :class:`~wise2spitzer.predictor.SpitzerPredictor` saved as one file.

    Parameters
    ----------
    predictors : iterable of SpitzerPredictor
        Fitted predictors; at most one per (target, sample).

    Examples
    --------
    >>> from wise2spitzer.datasets import simulate_seip
    >>> df = simulate_seip(3000, random_state=0)
    >>> bundle = PredictorBundle.fit(df, targets=["irac4"], samples=["clean", "unclean"],
    ...                              preset="none", random_state=0, n_estimators=20,
    ...                              test_size=None)
    >>> bundle
    PredictorBundle(irac4: clean, unclean)
    >>> out = bundle.predict_catalog(df)
    >>> sorted(out["i4_pred_model"].unique())
    ['clean', 'unclean']
    """

    def __init__(self, predictors: Iterable[Any] = ()) -> None:
        self.members: list[Any] = list(predictors)
        seen: set[tuple[str, str]] = set()
        for p in self.members:
            p._check_fitted()
            key = (p.target.key, p.sample)
            if key in seen:
                raise ModelError(f"a bundle holds one model per target and sample; {key} twice")
            seen.add(key)

    def __repr__(self) -> str:
        parts = [f"{t}: {', '.join(p.sample for p in self.members_for(t))}" for t in self.targets]
        return f"PredictorBundle({'; '.join(parts)})"

    # ------------------------------------------------------------------ building
    @classmethod
    def fit(
        cls,
        df: pd.DataFrame,
        *,
        targets: Sequence[str] = ("mips1", "irac4"),
        samples: Sequence[str] = ("clean", "unclean"),
        progress=None,
        **fit_params: Any,
    ) -> PredictorBundle:
        """Fit one predictor per target and sample (see ``SpitzerPredictor.fit``).

        Parameters
        ----------
        df : pandas.DataFrame or astropy.table.Table
            Catalogue in SEIP conventions (a Table's flux units are honoured:
            :func:`wise2spitzer.tables.as_frame`).
        targets, samples : sequence of str
            Every combination is fitted.
        progress : callable, optional
            Called with a short text before each fit (and passed on to it).
        **fit_params
            Passed to every ``SpitzerPredictor.fit`` (``preset``, ``random_state``, ...).
        """
        from .predictor import SpitzerPredictor
        from .tables import as_frame

        df = as_frame(df)  # once, not per member
        if not targets or not samples:
            raise ModelError(f"a bundle needs targets and samples; got {targets!r}, {samples!r}")
        members = []
        for t in dict.fromkeys(get_target(t).key for t in targets):
            for s in dict.fromkeys(samples):
                if progress:
                    progress(f"fitting the {t} model of the {s} sample")
                members.append(SpitzerPredictor().fit(df, target=t, sample=s, progress=progress,
                                                      **fit_params))
        return cls(members)

    # ------------------------------------------------------------------- access
    @property
    def targets(self) -> list[str]:
        """Target keys, in the order of the members."""
        return list(dict.fromkeys(p.target.key for p in self.members))

    def output_names(self) -> list[str]:
        """Every column :meth:`predict_catalog` appends, band by band."""
        names: list[str] = []
        for t in self.targets:
            names += [*output_columns(t).values(), model_column(t)]
        return names

    def members_for(self, target) -> list[Any]:
        """The target's predictors, most specific sample first (:data:`SAMPLE_PRIORITY`)."""
        key = get_target(target).key
        found = [p for p in self.members if p.target.key == key]
        return sorted(found, key=lambda p: SAMPLE_PRIORITY.index(p.sample))

    def answering(self, predictor):
        """The predictor that answers ``predictor``'s rows in this bundle.

        When the bundle has a clean model of the same target, that model answers the clean
        rows, and ``predictor`` (unclean or all) only the others: it answers with its
        interval calibrated on those rows
        (:meth:`~wise2spitzer.predictor.SpitzerPredictor.for_nonclean_rows`). Otherwise
        the predictor itself.
        """
        from .samples import CLEAN

        if predictor.sample == CLEAN or not any(
                p.sample == CLEAN for p in self.members_for(predictor.target)):
            return predictor
        # Loaded bundles skip __init__, so the cache is made on first use.
        cache = self.__dict__.setdefault("_answering", {})
        if id(predictor) not in cache:
            cache[id(predictor)] = predictor.for_nonclean_rows()
        return cache[id(predictor)]

    def route(self, df: pd.DataFrame, target) -> np.ndarray:
        """Index into :meth:`members_for` of the model that answers each row.

        The first model (most specific sample) whose sample contains the row; rows in no
        model's sample go to the widest model, whose status says why.
        """
        members = self.members_for(target)
        if not members:
            raise ModelError(f"the bundle has no model for {get_target(target).key!r}")
        choice = np.full(len(df), len(members) - 1, dtype=int)
        undecided = np.ones(len(df), dtype=bool)
        for i, p in enumerate(members[:-1]):
            inside = p.sample_membership(df) & undecided
            choice[inside] = i
            undecided &= ~inside
        return choice

    # ---------------------------------------------------------------- predicting
    def predict_catalog(
        self,
        df: pd.DataFrame,
        *,
        confidence: float = 0.95,
        method: str | None = None,
        members: dict[int, Any] | None = None,
    ) -> pd.DataFrame:
        """Every input row, same order and index, with every target's columns appended.

        For each target: ``<p>_f_pred``, ``<p>_f_pred_lo``, ``<p>_f_pred_hi``,
        ``<p>_pred_status`` (as ``SpitzerPredictor.predict_catalog``) and ``<p>_pred_model``
        (the sample of the model that answered the row).

        ``df`` may be a DataFrame (fluxes in uJy) or an astropy Table (flux units honoured,
        :func:`wise2spitzer.tables.as_frame`); the answer is of the same kind, a Table's new
        flux columns in uJy and masked without a prediction.

        ``members`` optionally replaces members by an object with the same
        ``predict_catalog`` (the batch fast path), keyed by their position in
        :attr:`members`.

        Examples
        --------
        >>> import astropy.units as u
        >>> from astropy.table import Table
        >>> from wise2spitzer.datasets import simulate_seip
        >>> df = simulate_seip(3000, random_state=0)
        >>> bundle = PredictorBundle.fit(df, targets=["mips1"], samples=["clean", "unclean"],
        ...                              preset="none", n_estimators=20, conformal_cv=2,
        ...                              boruta_max_iter=10, test_size=None, random_state=0)
        >>> table = Table.from_pandas(df.head(500))
        >>> table["wise4"] = table["wise4"] / 1e6 * u.Jy   # W4 in Jy, the rest unitless (uJy)
        >>> out = bundle.predict_catalog(table)
        >>> out["m1_f_pred"].unit, sorted(set(out["m1_pred_model"].tolist()))
        (Unit("uJy"), ['clean', 'unclean'])
        """
        from .tables import as_frame, like_input

        data, df = df, as_frame(df)
        out = df.copy()
        for t in self.targets:
            cols = output_columns(t)
            names = [cols["pred"], cols["lo"], cols["hi"], cols["status"]]
            group = self.members_for(t)
            choice = self.route(df, t)
            values = {c: np.full(len(df), np.nan) for c in names[:3]}
            status = np.empty(len(df), dtype=object)
            for i, p in enumerate(group):
                rows = np.flatnonzero(choice == i)
                if not len(rows):
                    continue
                runner = (members or {}).get(self.members.index(p)) or self.answering(p)
                part = runner.predict_catalog(df.iloc[rows], confidence=confidence,
                                              method=method)
                for c in names[:3]:
                    values[c][rows] = part[c].to_numpy(dtype=float)
                status[rows] = part[cols["status"]].to_numpy(dtype=object)
            for c in names[:3]:
                out[c] = values[c]
            out[cols["status"]] = pd.array(status, dtype="str")
            samples = np.array([p.sample for p in group], dtype=object)[choice]
            out[model_column(t)] = pd.array(samples, dtype="str")
        return like_input(out, data, columns=self.output_names())

    def fast(self, *, n_jobs: int = 1) -> BundleRunner:
        """The bundle with every member the batch fast path supports on that path."""
        from .batch import FastPredictor

        runners = {i: FastPredictor(self.answering(p), n_jobs=n_jobs)
                   for i, p in enumerate(self.members) if FastPredictor.supports(p)}
        return BundleRunner(self, runners)

    # --------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the bundle to ``path`` with :func:`skops.io.dump` (no pickle), atomically."""
        from .modelfile import save_model

        if not self.members:
            raise ModelError("an empty bundle cannot be saved")
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> PredictorBundle:
        """Read a bundle (or a single-model file, wrapped) with the checks of model loading."""
        from .modelfile import load_model

        obj = load_model(path)
        return obj if isinstance(obj, cls) else cls([obj])


class BundleRunner:
    """A bundle whose members predict through other objects (e.g. the batch fast path).

    Has the bundle's ``predict_catalog``, ``targets`` and ``members``, so code that streams a
    catalogue through a predictor takes it as it takes the bundle.
    """

    def __init__(self, bundle: PredictorBundle, runners: dict[int, Any]) -> None:
        self.bundle = bundle
        self.runners = dict(runners)

    def __repr__(self) -> str:
        return f"BundleRunner({self.bundle!r}, {len(self.runners)} on the fast path)"

    @property
    def members(self) -> list[Any]:
        return self.bundle.members

    @property
    def targets(self) -> list[str]:
        return self.bundle.targets

    def output_names(self) -> list[str]:
        return self.bundle.output_names()

    def predict_catalog(self, df: pd.DataFrame, *, confidence: float = 0.95,
                        method: str | None = None) -> pd.DataFrame:
        """:meth:`PredictorBundle.predict_catalog` with the members' runners."""
        return self.bundle.predict_catalog(df, confidence=confidence, method=method,
                                           members=self.runners)
