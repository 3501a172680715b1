"""One BLAS thread for the analysis.

Its matrix products are small (states × states, resamples × cycles × ~70
columns): one thread does them as fast as OpenBLAS's pool on a quiet machine,
and on a loaded one the pool's threads, which keep spinning after each call,
made a small product 9× slower (2026-12-03: 75 ms against 8 ms a call, 2
cores) and take the second core from the provenance hash and the prefetched
resamples."""

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
