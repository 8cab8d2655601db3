"""``python -m advdist.bench [--only NAME ...] [--quick] [--out figures/bench/bench.json]`` (``make bench``)."""

from advdist.bench.cli import main

if __name__ == "__main__":
    main()
