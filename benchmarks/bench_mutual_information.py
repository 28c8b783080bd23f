"""Shim: the benchmark lives in the package, `python -m fast_rnnt.benchmark.recursion --help`."""
from fast_rnnt.benchmark.recursion import main

main()
