"""The ``reproduce`` study: the paper's analysis end to end, written as a report.

:func:`reproduce` loads a catalogue (the embedded simulation by default), scores ET, LR and
the raw WISE estimate for MIPS1 and IRAC4 on the clean and unclean samples
(:func:`wise2spitzer.evaluation.evaluate`, the Table 2 equivalent), measures the coverage of
every interval method, fits and saves the predictors, counts the samples (the paper's Fig. 2
flow, with the predictors' own applicability domains), predicts every input row and draws the
figures (paper Figs. 5-10 and the interval coverage). Everything goes into one directory with
a ``report.md`` and a self-contained ``report.html`` that say what the data was and what the
numbers mean.

:func:`quality_cut_analysis` is the paper's Appendix A on its own (``wise2spitzer cuts``).

The package is split by concern: :mod:`.data` (load and describe the data), :mod:`.pipeline`
(the study's steps), :mod:`.tables`, :mod:`.figures` (figures with their captions) and
:mod:`.render` (Markdown and HTML). The steps shared with ``wise2spitzer evaluate`` live in
:mod:`wise2spitzer.study`.
"""

from __future__ import annotations

from ..evaluation import STUDY_PRESETS
from ..study import QUICK_SETTINGS
from .data import describe_data, load_study_data
from .figures import plot_quality_cuts
from .pipeline import ReproduceResult, quality_cut_analysis, reproduce
from .tables import quality_cut_table, sample_flow

__all__ = [
    "REPRODUCE_PRESETS",
    "ReproduceResult",
    "describe_data",
    "load_study_data",
    "plot_quality_cuts",
    "quality_cut_analysis",
    "quality_cut_table",
    "reproduce",
    "sample_flow",
]

#: The presets of ``reproduce``; the same table drives ``wise2spitzer evaluate`` so both
#: print the same numbers for the same preset and seed (see
#: :data:`wise2spitzer.evaluation.STUDY_PRESETS`).
REPRODUCE_PRESETS = STUDY_PRESETS
#: Overrides of ``quick=True`` (:data:`wise2spitzer.study.QUICK_SETTINGS`); the tests read it.
_QUICK = QUICK_SETTINGS
