"""The experiment layer: the papers' tables and figures, from trained models to the written reports.

- :mod:`.core` — what a table is (:class:`Row`, :class:`RobustnessTable`, :data:`TABLES`), the one runner that
  resolves configs, gets or trains the models, evaluates them through :func:`advdist.evaluate.robustness_matrix`,
  puts ours beside the paper's and writes the report;
- one wing per paper with its items (tables' rows, figure runners): :mod:`.adt`, :mod:`.atld`, :mod:`.atent`.
  Importing the package registers every table.

The names of the former ``advdist.experiments`` module are re-exported here.
"""

from advdist.experiments import core

# each wing registers its tables in core.TABLES, in this order (the papers' order of the former TABLES)
from advdist.experiments import adt  # isort: skip
from advdist.experiments import atld  # isort: skip
from advdist.experiments import atent  # isort: skip
from advdist.experiments.adt import (
                                     ADT_DEFAULT_NOTES,
                                     LAMBDA_FORMS,
                                     LITERAL_SUFFIX,
                                     lambda_sweep,
                                     transfer_matrix,
                                     transfer_summary,
)
from advdist.experiments.core import (
                                     TABLES,
                                     RobustnessTable,
                                     Row,
                                     best_epochs,
                                     comparable,
                                     compare_rows,
                                     differences,
                                     eval_subset,
                                     evaluate_table,
                                     learning_curves,
                                     table,
                                     train_rows,
                                     train_times,
                                     with_paper,
                                     write_report,
)

__all__ = ["core", "adt", "atld", "atent", "Row", "RobustnessTable", "TABLES", "table", "eval_subset",
           "evaluate_table", "comparable", "differences", "train_times", "learning_curves", "train_rows", "best_epochs",
           "with_paper", "write_report", "compare_rows", "ADT_DEFAULT_NOTES", "LITERAL_SUFFIX", "LAMBDA_FORMS",
           "lambda_sweep", "transfer_matrix", "transfer_summary"]
