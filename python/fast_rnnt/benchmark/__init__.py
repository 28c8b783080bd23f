"""Benchmarks of fast_rnnt against named baselines; ``python -m fast_rnnt.benchmark`` runs them all.

Submodules, each runnable on its own (``python -m fast_rnnt.benchmark.<name> --help``):
``recursion`` (the mutual-information recursion vs the serial loop), ``losses`` (full and simple
loss vs ATen compositions and torchaudio), ``pruned`` (the whole pruned training step vs the same
step with an ATen-composed pruned loss, and its library calls alone). With
``--fast-rnnt-1-3-python``, each also runs the released fast_rnnt 1.3 (``peers``).
"""
