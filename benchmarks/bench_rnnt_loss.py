"""Shim: the benchmark lives in the package, `python -m fast_rnnt.benchmark.losses --help`."""
from fast_rnnt.benchmark.losses import main

main()
