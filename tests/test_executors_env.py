"""A local Dask cluster leaves this process's environment as it found it."""

from __future__ import annotations

import os

from simulation.executors import DaskExecutor


def test_a_local_cluster_does_not_change_the_callers_numba_threads(monkeypatch):
    """Its workers get one numba thread each; the caller keeps its own. (Left in the
    environment, NUMBA_NUM_THREADS=1 made numba's next compilation in the caller fail:
    'Cannot set NUMBA_NUM_THREADS to a different value once the threads have been
    launched'.)"""
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with DaskExecutor("local:1") as executor:
        threads = executor.client.run(lambda: os.environ.get("NUMBA_NUM_THREADS"))
        assert list(threads.values()) == ["1"]
    assert "NUMBA_NUM_THREADS" not in os.environ
    assert "OMP_NUM_THREADS" not in os.environ
