"""Sweeps on a Dask cluster: chunks of runs become Dask tasks on the native backend.

``Model.sweep(..., executor=client)`` (``client`` a ``dask.distributed.Client``) hands the
sweep's chunks (:class:`sdhealth.experiments.chunks.Chunk`: the IR model, the clock, the
parameter matrix and the summaries) to :func:`run_chunks`. Each chunk is one task:

- the chunk is pickled with its IR model (tens of kB); a worker compiles the model on first
  use -- from the native backend's disk cache, keyed by the model's content, when the machine
  has compiled it before -- and keeps it in memory for the following chunks;
- summaries are computed in the worker, so only ``runs x summaries x variables`` numbers travel
  back;
- results come back as they complete (the progress bar moves) and are put in place by run
  number, so the ``Dataset`` is the same, bit for bit, as a local run: the same chunks run the
  same kernel on the same numbers;
- a worker lost mid-sweep costs only the chunks it held: the scheduler gives them to another
  worker (Dask's ``distributed.scheduler.allowed-failures``, 3 by default). Tasks are not
  scattered data, so nothing else is lost with the worker. A run that fails (a
  :class:`~sdhealth.errors.SimulationError`) is not retried: runs are deterministic;
- Ctrl-C, an error, or closing the iterator cancels the chunks not yet finished.

Inside a worker process one kernel call runs at a time (a lock): the kernel spreads each
chunk over the machine's cores itself, with numba threads, which must not be entered from two
Dask threads at once. One worker process per machine (``--nthreads 1``) is the natural set-up.

Dask is an optional dependency (``pip install sdhealth[dask]``); this module is imported only
when an executor is given.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sdhealth.errors import SdhealthError
from sdhealth.experiments.chunks import Chunk, ChunkResult, run_chunk

__all__ = ["connect", "run_chunks", "submit_chunks"]

_KERNEL_LOCK = threading.Lock()


def _distributed() -> Any:
    try:
        import dask.distributed
    except ImportError as exc:
        raise SdhealthError(
            f"running on Dask needs dask.distributed (pip install 'sdhealth[dask]'): {exc}"
        ) from None
    return dask.distributed


def connect(address: str, timeout: float = 10.0) -> Any:
    """A ``dask.distributed.Client`` for the scheduler at ``address`` (e.g. ``tcp://host:8786``).

    Raises
    ------
    SdhealthError
        Dask is not installed, or no scheduler answers at ``address`` within ``timeout`` s.
    """
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SdhealthError(f"cannot reach a Dask scheduler at {address!r}: {exc}") from None


def _run_chunk_task(chunk: Chunk) -> ChunkResult:
    """The task run by a worker: one chunk, one kernel call at a time per process."""
    with _KERNEL_LOCK:
        return run_chunk(chunk)


def submit_chunks(client: Any, chunks: Sequence[Chunk]) -> list[Any]:
    """Submit one task per chunk and return their futures (in chunk order)."""
    token = uuid.uuid4().hex[:12]
    return [
        client.submit(_run_chunk_task, chunk, key=f"sdhealth-sweep-{token}-{index}", pure=False)
        for index, chunk in enumerate(chunks)
    ]


def run_chunks(client: Any, chunks: Sequence[Chunk]) -> Iterator[tuple[int, ChunkResult]]:
    """Run ``chunks`` on ``client``'s cluster; yield ``(chunk index, result)`` as they finish.

    Closing the iterator early (an error, Ctrl-C) cancels the chunks not yet finished.

    Raises
    ------
    SdhealthError
        ``client`` is not a Dask client.
    SimulationError
        A run failed in a worker.
    """
    distributed = _distributed()
    if not isinstance(client, distributed.Client):
        raise SdhealthError(
            f"executor must be a dask.distributed.Client, got {type(client).__name__}"
        )
    futures = submit_chunks(client, chunks)
    index = {future.key: i for i, future in enumerate(futures)}
    try:
        for future in distributed.as_completed(futures):
            yield index[future.key], future.result()
    finally:
        pending = [future for future in futures if not future.done()]
        if pending:
            client.cancel(pending)
