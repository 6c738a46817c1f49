"""What the report shows must not have seen its own answer: SED rows and excess flags.

:func:`sed_frame` builds the rows the SED figure (paper Fig. 8) draws: a source with an
observed Spitzer flux shows the prediction of a k-fold model that did not see it (the pooled
held-out predictions of :func:`wise2spitzer.coverage.heldout_predictions`), a source without
one the final model's prediction; a labelled source with no held-out prediction is not drawn.
:func:`excess_step` measures how often each interval method flags a dust-free simulated star
as having an infrared excess (:func:`wise2spitzer.excess.false_excess_rate`), and the rate of
the intervals ``predict`` issues, on the same held-out predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import CatalogError, ModelError
from ..samples import labelled_mask, sample_mask
from ..schema import STATUS_OK, get_target, output_columns

__all__ = ["NOT_HELD_OUT", "ORIGIN_HELD_OUT", "ORIGIN_UNLABELLED", "excess_step",
           "issued_false_excess", "origin_column", "sed_caption", "sed_frame"]

#: Status of a labelled row whose only prediction came from a model trained on it.
NOT_HELD_OUT = "not_held_out"
#: Origins of a drawn prediction (column :func:`origin_column`).
ORIGIN_HELD_OUT = "out of fold"
ORIGIN_UNLABELLED = "never labelled"


def origin_column(target) -> str:
    """Name of the column saying where a row's prediction of ``target`` comes from."""
    return f"{get_target(target).prefix}_pred_origin"


def sed_frame(predicted: pd.DataFrame, heldout: dict[str, pd.DataFrame], *,
              tkeys: list[str], sample: str) -> pd.DataFrame:
    """Rows of ``sample`` whose drawn predictions never saw their own Spitzer flux.

    Parameters
    ----------
    predicted : DataFrame
        Every input row with the final models' output columns.
    heldout : dict
        Target key -> pooled held-out predictions of its labelled rows.
    tkeys : list of str
        Targets whose columns ``predicted`` holds.
    sample : str
        Sample of the final models (only its rows are kept).

    Returns
    -------
    DataFrame
        The rows of ``sample``; for each target, labelled rows carry their held-out
        prediction (or status :data:`NOT_HELD_OUT` and no value) and every row names the
        origin of its value in :func:`origin_column`.
    """
    out = predicted[np.asarray(sample_mask(predicted, sample), bool)].copy()
    for tk in tkeys:
        t = get_target(tk)
        cols = output_columns(t)
        lab = np.asarray(labelled_mask(out, t), bool) if t.column in out else \
            np.zeros(len(out), bool)
        origin = pd.Series(ORIGIN_UNLABELLED, index=out.index, dtype=object)
        origin[lab] = ORIGIN_HELD_OUT
        held = heldout.get(tk)
        lab_idx = out.index[lab]
        inside = lab_idx.intersection(held.index) if held is not None else lab_idx[:0]
        for key in ("pred", "lo", "hi"):
            out.loc[lab_idx, cols[key]] = np.nan
            if len(inside):
                out.loc[inside, cols[key]] = held.loc[inside, cols[key]].to_numpy(float)
        out.loc[lab_idx, cols["status"]] = NOT_HELD_OUT
        if len(inside):
            out.loc[inside, cols["status"]] = held.loc[inside, cols["status"]].to_numpy()
        out[origin_column(t)] = origin
    return out


def sed_caption(*, tkeys: list[str], sample: str, n_folds: int | None, real: str = "") -> str:
    """Caption of the SED figure: what is drawn and where each prediction comes from."""
    bands = "/".join(get_target(tk).band for tk in tkeys)
    folds = f"{n_folds}-fold" if n_folds else "k-fold"
    return (
        f"Spectral energy distributions (paper Fig. 8) of {sample}-sample sources{real}: Gaia, "
        "2MASS, WISE, IRAC and MIPS photometry where measured (open WISE diamonds with arrows "
        f"are SEIP 95% upper limits) and the predicted {bands} fluxes (stars, 95% interval bars, "
        "drawn slightly to the right of the band's wavelength). No drawn prediction saw its own "
        f"Spitzer flux: where the band is observed ('{ORIGIN_HELD_OUT}' in the panel title) the "
        f"value comes from the {folds} model of the source's sample whose training left that "
        "source out, so the observed point tests the prediction; where it is not observed "
        "('final model') the source was never labelled and the final model predicts it, which "
        "is what the tool is for.")


def issued_false_excess(pooled: pd.DataFrame, df: pd.DataFrame, *, target) -> dict[str, Any]:
    """False-excess rate of the intervals ``predict`` issues, on held-out predictions.

    Parameters
    ----------
    pooled : DataFrame
        :func:`~wise2spitzer.coverage.heldout_predictions` of ``target`` (labelled rows).
    df : DataFrame
        The catalogue (``has_disk``).
    target : {"mips1", "irac4"}

    Returns
    -------
    dict
        The columns of :func:`~wise2spitzer.excess.false_excess_rate` for the rows with a
        value (status ok).
    """
    from ..excess import flag_excess, flag_rates

    t = get_target(target)
    cols = output_columns(t)
    ok = pooled[pooled[cols["status"]].astype(str) == STATUS_OK]
    flags = flag_excess(pd.to_numeric(ok[t.column]), ok[cols["pred"]], ok[cols["lo"]],
                        ok[cols["hi"]])
    disk = df.loc[ok.index, "has_disk"].astype(bool).to_numpy()
    return flag_rates(flags, disk, 0.95)


def excess_step(st, t, s: str, df_t: pd.DataFrame, fitted: dict[str, Any]) -> None:
    """False-excess rates of every interval method (simulated data only) into ``st.excess``.

    Per method: a model fitted on 80% of the labelled rows of ``s`` flags the held-out 20%
    (:func:`~wise2spitzer.excess.false_excess_rate`); and the issued intervals (default
    method, the model of each row's sample) on the pooled k-fold held-out predictions.
    Without ``has_disk`` (real data) nothing is measured and a note says why.
    """
    from ..excess import false_excess_rate

    if not st.simulated or "has_disk" not in df_t.columns:
        st.excess_note = (
            "The false-excess rate cannot be measured on these data: it needs to know which "
            "sources have no dust (a ground truth only the simulation has).")
        return
    methods = (list(dict.fromkeys(st.coverage[-1]["method"])) if st.coverage
               else ["conformal"])
    refs = ["observed"] + (["truth"] if f"true_{t.column}" in df_t.columns else [])
    try:
        table = false_excess_rate(df_t, target=t, sample=s, methods=methods, confidence=0.95,
                                  reference=refs, random_state=st.opts.random_state,
                                  n_jobs=st.opts.n_jobs,
                                  **({"form": st.form} if st.form else {}), **fitted)
    except (ModelError, CatalogError) as exc:
        st.notes.append(f"{t.band} {s}: false-excess rate not measured ({exc})")
        return
    table.insert(4, "held out", "20% test split")
    pooled = st.heldout.get(t.key)
    if pooled is not None:
        row = {"target": t.key, "sample": "+".join(st.samples), "method": "issued (default)",
               "confidence": 0.95, "held out": f"{st.heldout_folds}-fold, pooled",
               "reference": "observed", **issued_false_excess(pooled, df_t, target=t)}
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    st.excess.append(table)
