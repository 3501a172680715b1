"""One BLAS thread for the analysis.

Its matrix products are small (states × states, resamples × cycles × ~70
columns): on one thread they run faster than on OpenBLAS's pool, whose
threads keep spinning after each call and take the second core from the
provenance hash and the archive reads (2 cores: a 1,000-cycle analysis took
47 ms with the pool against 39 ms on one thread; ``benchmarks/analysis.py``).
"""

from __future__ import annotations

import contextlib

_CONTROLLER: list = []  # lazily created threadpoolctl controller (its creation costs ~5 ms)


def one_blas_thread():
    """Context limiting BLAS to one thread (nothing when threadpoolctl is missing)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")
