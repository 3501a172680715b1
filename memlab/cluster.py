"""The Dask engine shared by sweeps and population analysis (``distributed``, not a home-made pool).

:func:`dask_client` starts a ``LocalCluster`` (worker processes, one thread each, a memory limit per
worker) or connects to a running scheduler; :func:`run_mapper` maps a function over argument tuples
on it, in order, returning a failed call's exception in its place (the caller reports and skips it).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional

from memlab.errors import ConfigError


@contextlib.contextmanager
def dask_client(workers: int = 2, scheduler: Optional[str] = None, memory_limit: str = "4GiB") -> Iterator[Any]:
    """A ``distributed.Client``: on ``scheduler`` (an address) if given, else on a new LocalCluster."""
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        if not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"--workers {workers!r}: give 1 or more worker processes")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                               dashboard_address=":0", silence_logs=50)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_mapper(client: Any, retries: int = 0, progress: bool = False, desc: str = "runs") -> Callable:
    """``map_runs(fn, arguments) -> [fn(*a) or the exception it raised, ...]`` on ``client``, in order."""
    def map_runs(fn: Callable, arguments: list[tuple]) -> list:
        from distributed import as_completed
        from tqdm import tqdm

        futures = [client.submit(fn, *a, pure=False, retries=retries) for a in arguments]
        for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, unit="run", disable=not progress,
                      leave=False):
            pass
        out = []
        for f in futures:
            try:
                out.append(f.result())
            except Exception as exc:  # noqa: BLE001 - reported by the caller, the others go on
                out.append(exc)
        return out
    return map_runs
