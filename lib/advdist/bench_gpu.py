"""Old name of :mod:`advdist.bench.gpu` (``make bench-gpu``): importing it gives that very module, and
``python -m advdist.bench_gpu`` runs it as ``python -m advdist.bench.gpu`` does."""

import sys

from advdist.bench import gpu as _gpu

if __name__ == "__main__":
    _gpu.main()
else:
    sys.modules[__name__] = _gpu
