"""Old home of ADT's learned distributions as attacks (Table 4, Fig. 6); kept so that old imports work (no logic here).

The attacks are in :mod:`advdist.attacks.distribution`; their settings, the Table 4 and Fig. 6 runners and plots in
:mod:`advdist.experiments.adt`.
"""

from advdist.attacks.distribution import (  # noqa: F401
                                          GENERATOR_METHODS,
                                          DistributionAttack,
                                          attack_method,
                                          draw_sampler,
                                          exp_convergence,
                                          generator_attack,
                                          train_generator_attack,
                                          worst_of,
)
from advdist.experiments.adt import (
                                          COLUMNS,
                                          CONVERGENCE,
                                          EXP,
                                          EXP_LITERAL,
                                          EXP_LITERAL_OPTIONS,
                                          FIG6_LABELS as LABELS,  # noqa: F401
                                          FIG6_ROWS,
                                          GENERATOR,  # noqa: F401
                                          ROWS,
                                          SETTING,  # noqa: F401
                                          SUMMARY_LABELS,
                                          TABLE4_N,
                                          attack_objective,
                                          attack_setting,
                                          available_columns,
                                          compare_columns,
                                          converged_by,
                                          convergence_curves,
                                          convergence_summary,
                                          evaluate_table4,
                                          plot_convergence,
                                          split_rows,
                                          table4_with_paper as with_paper,
)
from advdist.samplers import explicit_attack, fit_explicit  # noqa: F401

__all__ = [
    "ROWS", "COLUMNS", "EXP_LITERAL", "EXP_LITERAL_OPTIONS", "GENERATOR_METHODS", "FIG6_ROWS", "EXP", "GENERATOR",
    "CONVERGENCE", "TABLE4_N", "attack_objective",
    "attack_method", "train_generator_attack", "worst_of", "generator_attack", "DistributionAttack",
    "attack_setting", "available_columns", "evaluate_table4", "with_paper", "compare_columns",
    "exp_convergence", "convergence_curves", "plot_convergence", "convergence_summary", "converged_by",
    "SUMMARY_LABELS",
]

_draw, _split_rows = draw_sampler, split_rows  # old private names
