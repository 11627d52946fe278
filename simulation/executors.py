"""Where chunks of a study run: in this process, or on a Dask cluster.

An executor is a context manager: open it, ``imap`` tasks through it (results arrive as
they finish, in any order), close it. Tasks are pure functions of their arguments, so a
chunk recomputed after a lost worker gives the same numbers.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator


class RunCounter:
    """Counts the runs done in each chunk, wherever the chunk runs, and advances a progress
    callback by the runs not counted before: each run once, even when a chunk's reports
    arrive late, out of order, or again from a retried chunk (its count restarts at 0 and
    advances nothing until it passes what was counted)."""

    def __init__(self, progress: Callable[[int], None] | None):
        self.progress = progress
        self.counted: dict[int, int] = {}
        self.lock = threading.Lock()

    def update(self, chunk: int, done: int) -> None:
        """Chunk ``chunk`` has ``done`` runs finished in all."""
        with self.lock:
            new = done - self.counted.get(chunk, 0)
            if new <= 0 or self.progress is None:
                return
            self.counted[chunk] = done
        self.progress(new)


class ChunkProgress:
    """A task's progress callback: ``simulate`` calls it with each batch of runs finished;
    it passes on the chunk's running total (in this process straight to the counter, on a
    Dask worker as an event the client receives)."""

    def __init__(self, chunk: int, counter: RunCounter | None = None, topic: str | None = None):
        self.chunk, self.counter, self.topic, self.done = chunk, counter, topic, 0

    def __getstate__(self):  # shipped to a worker without the client-side counter
        return {**self.__dict__, "counter": None}

    def __call__(self, runs: int) -> None:
        self.done += runs
        if self.counter is not None:
            self.counter.update(self.chunk, self.done)
        else:
            from distributed import get_worker

            get_worker().log_event(self.topic, [self.chunk, self.done])


class InProcess:
    """Runs chunks one after another here; each chunk uses numba's threads."""

    name = "in-process"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap(self, fn: Callable, tasks: list[tuple], counter: RunCounter | None = None
             ) -> Iterator[tuple[object, object]]:
        """``tasks`` are (chunk number, args) pairs; yields (chunk number, fn(*args)) as each
        finishes; with a ``counter``, fn also takes ``progress=`` and reports to it."""
        for key, args in tasks:
            if counter is None:
                yield key, fn(*args)
            else:
                yield key, fn(*args, progress=ChunkProgress(key, counter))

    def describe(self) -> dict:
        import numba

        return {"executor": self.name, "workers": 1, "threads_per_worker": numba.get_num_threads()}


#: seconds a local cluster's workers may take to start (spawned processes import numba)
WORKER_START_TIMEOUT = 120


class DaskExecutor:
    """Runs chunks on Dask workers: ``local:N`` starts a LocalCluster of N worker processes,
    anything else is the address of a running scheduler (``tcp://host:port``).

    Every worker runs one task at a time with one numba thread, so N workers use N cores and
    parallel kernels are never called from two threads at once. Workers started by hand need
    ``NUMBA_NUM_THREADS=1`` in their environment (``dask worker --nthreads 1``).
    """

    name = "dask"

    def __init__(self, scheduler: str):
        self.scheduler = scheduler
        self.client = None
        self.cluster = None

    def __enter__(self):
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler.startswith("local:"):
            workers = int(self.scheduler.split(":", 1)[1])
            worker_env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            # the nannies run in this process and write worker_env into its environment;
            # left there, numba's next compilation here reads one thread
            saved = {name: os.environ.get(name) for name in worker_env}
            try:
                with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_env}):
                    self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                                processes=True, scheduler_port=0,
                                                dashboard_address=None)
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
            self.client = Client(self.cluster)
            self.client.wait_for_workers(workers, timeout=WORKER_START_TIMEOUT)
        else:
            self.client = Client(self.scheduler, timeout="20s")
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False

    def imap(self, fn: Callable, tasks: list[tuple], counter: RunCounter | None = None
             ) -> Iterator[tuple[object, object]]:
        """``tasks`` are (chunk number, args) pairs; yields (chunk number, fn(*args)) as each
        finishes. With a ``counter``, fn also takes ``progress=``: workers report progress as
        events on a topic of this call's own, which the client passes to ``counter`` as they
        arrive."""
        from distributed import as_completed

        topic = f"cxsim-progress-{uuid.uuid4().hex}"
        if counter is not None:
            self.client.subscribe_topic(topic, lambda event: counter.update(*event[1]))
        def progress(key):  # only tasks whose progress is counted take the argument
            return {} if counter is None else {"progress": ChunkProgress(key, topic=topic)}

        futures = {self.client.submit(fn, *args, pure=False, retries=2, **progress(key)): key
                   for key, args in tasks}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            self.client.cancel(list(futures))
            if counter is not None:
                self.client.unsubscribe_topic(topic)

    def describe(self) -> dict:
        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        return {"executor": self.name, "scheduler": self.scheduler, "workers": len(workers),
                "threads_per_worker": 1}


def make_executor(scheduler: str | None, workers: int | None):
    """``--scheduler`` wins; ``--workers N`` alone means a LocalCluster of N workers."""
    if scheduler:
        return DaskExecutor(scheduler)
    if workers and workers > 1:
        return DaskExecutor(f"local:{workers}")
    return InProcess()

