"""CPU-heavy work (a whole program's matching) in a worker process, so the event loop keeps acknowledging
commands and clicks meanwhile. A thread would not do: the solvers hold the interpreter lock for seconds."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
_workers: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor:
    global _workers
    if _workers is None:
        # spawn, not fork: forking a process that runs an event loop and database threads copies their locks.
        _workers = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _workers


async def in_worker(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` in the worker process (one, started on first use and kept); fn and args must pickle."""
    global _workers
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool(), fn, *args)
    except BrokenProcessPool:  # the worker died (killed, out of memory): start a new one, once
        _workers = None
        return await asyncio.get_running_loop().run_in_executor(_pool(), fn, *args)
