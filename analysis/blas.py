"""One BLAS thread for the analysis.

Its matrix products are small (states × states, resamples × cycles × ~70
columns): one thread does them as fast as OpenBLAS's pool on a quiet machine,
and on a loaded one the pool's threads, which keep spinning after each call,
made a small product 9× slower (2026-12-03: 75 ms against 8 ms a call, 2
cores) and take the second core from the provenance hash and the prefetched
resamples."""

from __future__ import annotations

import contextlib
import functools


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # its creation costs ~5 ms: once a process


def one_blas_thread():
    """Context limiting BLAS to one thread (nothing when threadpoolctl is missing)."""
    try:
        controller = _controller()
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")
