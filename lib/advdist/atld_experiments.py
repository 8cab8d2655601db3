"""Old home of ATLD's tables with the IMT rows; kept so that old imports work (no logic here).

Everything is in :mod:`advdist.experiments.atld`.
"""

from advdist.experiments.atld import (ADAPTIVE_PROTOCOL, AROB_LABEL, DISC_ATTACKS, DISC_VARIANTS, FIG3_EPS_RATIOS,
                                      FIG3_ROWS, IMT_ROWS, PAPER_PROTOCOL, PROTOCOLS, SEPARABILITY_FIT,
                                      TRANSFER_DEFENSES, TRANSFER_PROTOCOL, adaptive_table, atld_transfer, caption,
                                      controls_wide, discriminator_report, discriminator_sentences, discriminator_table,
                                      eps_sweep, evaluate_atld_table, imt_columns, imt_gain, imt_robustness, joint_info,
                                      latent_separability, separability_sentences, separability_table, shared_runs,
                                      step_label, table_info, transfer_beside_paper, transfer_beside_papers,
                                      with_paper, with_papers, write_atld_tables)

__all__ = ["IMT_ROWS", "PROTOCOLS", "AROB_LABEL", "DISC_VARIANTS", "DISC_ATTACKS", "imt_robustness",
           "evaluate_atld_table", "table_info", "caption", "TRANSFER_PROTOCOL", "PAPER_PROTOCOL", "ADAPTIVE_PROTOCOL",
           "with_paper", "adaptive_table", "write_atld_tables", "joint_info", "shared_runs", "with_papers",
           "imt_columns", "imt_gain", "discriminator_report", "latent_separability", "discriminator_table",
           "step_label", "separability_table", "SEPARABILITY_FIT", "separability_sentences", "controls_wide",
           "discriminator_sentences", "TRANSFER_DEFENSES", "atld_transfer", "transfer_beside_paper",
           "transfer_beside_papers", "FIG3_EPS_RATIOS", "FIG3_ROWS", "eps_sweep"]
