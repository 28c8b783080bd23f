"""Shim: the benchmark lives in the package, `python -m fast_rnnt.benchmark.pruned --help`."""
from fast_rnnt.benchmark.pruned import main

main()
