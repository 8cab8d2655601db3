"""Test-time defences wrapped as classifiers, so any attack can target them end to end.

- :mod:`advdist.defenses.imt`: ATLD's Inference with Manifold Transformation (IMT, IMT+), ATLD Sec. 4.2, Eq. (8).
"""

from advdist.defenses.imt import DIRECTIONS, GRADS, IMT, IMT_PLUS_BAND, build_imt, eot_wrap, imt_transform

__all__ = ["IMT", "imt_transform", "build_imt", "eot_wrap", "GRADS", "IMT_PLUS_BAND", "DIRECTIONS"]
