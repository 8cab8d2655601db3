"""Old home of ADT's Fig. 1 / Fig. 2 data collection; kept so that old imports work (no logic here).

The figure runners and tables are in :mod:`advdist.experiments.adt`; the measurements on a given model in
:mod:`advdist.analysis.diversity` (the PGD-restart and ADT_EXP samples) and :mod:`advdist.analysis.landscape` (the
loss rise on a surface).
"""

from advdist.analysis.diversity import (
                                     error_rate as _error_rate,  # noqa: F401
                                     explicit_distribution_samples,
                                     explicit_fit_defaults,
                                     pgd_restart_samples,
)
from advdist.analysis.landscape import (
                                     grid_parts as _grid_parts,  # noqa: F401
                                     surface_rises,
)
from advdist.experiments.adt import (
                                     FIG1_VARIANTS,
                                     FIG2_METHODS,
                                     LABELS,
                                     PAPER_FIG1,
                                     SIZES,
                                     Diversity,
                                     TrainedModels,
                                     compare,
                                     diversity_table,
                                     dominant_eigenvalues,
                                     eigen_table,
                                     loss_surfaces,
                                     paper_fig1,
                                     sample_diversity,
                                     sizes,
                                     surface_stats,
                                     trained_models,
)

__all__ = ["PAPER_FIG1", "FIG2_METHODS", "LABELS", "FIG1_VARIANTS", "SIZES", "sizes", "pgd_restart_samples",
           "explicit_fit_defaults", "explicit_distribution_samples", "Diversity", "sample_diversity", "diversity_table",
           "paper_fig1", "TrainedModels", "trained_models", "loss_surfaces", "surface_rises", "surface_stats",
           "dominant_eigenvalues", "eigen_table", "compare"]
