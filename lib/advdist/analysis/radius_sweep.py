"""Old home of ATENT Tables 4 and 6 (accuracy across attack radii); kept so that old imports work (no logic here).

The runners are in :mod:`advdist.experiments.atent`.
"""

from advdist.experiments.atent import TABLE6_FRACTIONS, models_radius_sweep, radius_sweep

__all__ = ["TABLE6_FRACTIONS", "radius_sweep", "models_radius_sweep"]
