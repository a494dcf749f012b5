"""Local stand-ins for the two Ray Serve decorators deployment.py uses, for where ``ray`` cannot be
imported (a laptop, CI, ``mlops serve``). On the Ray Serve image deployment.py uses the real
``ray.serve`` and never imports this module.

``deployment`` returns an object with Ray's ``Deployment`` surface that matters here
(``func_or_class``, ``name``, ``options()``, ``bind()``), so ``app = Predictor.bind()`` works and a
local server reaches the very same class through ``app.deployment.func_or_class``.

``batch`` has ``@serve.batch``'s semantics on asyncio: each call awaits one item; calls that arrive
while a batch is forming are collected until ``max_batch_size`` items or ``batch_wait_timeout_s``
after the first, then the decorated function runs ONCE with the list and must return one result
per item (an exception fails every caller of that batch). Batches run one at a time per instance
(Ray's default ``max_concurrent_batches=1``). ``set_max_batch_size`` / ``set_batch_wait_timeout_s``
change both at run time, as Ray's wrapper does (deployment.py calls them from ``reconfigure``).
"""
from __future__ import annotations

import asyncio
import functools
import weakref

RAY_DEFAULT_MAX_BATCH_SIZE = 10
RAY_DEFAULT_BATCH_WAIT_TIMEOUT_S = 0.01


class Application:
    """What ``Deployment.bind()`` returns: the deployment and its constructor arguments."""

    def __init__(self, deployment: "Deployment", args: tuple, kwargs: dict):
        self.deployment, self.args, self.kwargs = deployment, args, kwargs


class Deployment:
    def __init__(self, cls, options: dict):
        self.func_or_class = cls
        self.name = options.get("name") or cls.__name__
        self.options_dict = dict(options)

    def options(self, **options) -> "Deployment":
        return Deployment(self.func_or_class, {**self.options_dict, **options})

    def bind(self, *args, **kwargs) -> Application:
        return Application(self, args, kwargs)


def deployment(_cls=None, **options):
    """``@serve.deployment`` and ``@serve.deployment(**options)``; options are kept, not acted on."""
    if _cls is not None:
        return Deployment(_cls, options)
    return lambda cls: Deployment(cls, options)


class _Settings:
    def __init__(self, max_batch_size: int, batch_wait_timeout_s: float):
        self.max_batch_size = max_batch_size
        self.batch_wait_timeout_s = batch_wait_timeout_s


class _BatchQueue:
    """The pending calls of one instance on one event loop, and the task that batches them."""

    def __init__(self, func, owner, settings: _Settings):
        self.func, self.owner, self.settings = func, owner, settings
        self.loop = asyncio.get_running_loop()
        self.pending = []  # (item, future)
        self.arrived = asyncio.Event()
        self.task = self.loop.create_task(self._run())

    def put(self, item) -> asyncio.Future:
        future = self.loop.create_future()
        self.pending.append((item, future))
        self.arrived.set()
        return future

    async def _run(self) -> None:
        while True:
            while not self.pending:
                self.arrived.clear()
                await self.arrived.wait()
            # The batch window opens with its first item: wait for more until it is full or closes.
            deadline = self.loop.time() + max(0.0, float(self.settings.batch_wait_timeout_s))
            while len(self.pending) < self._size():
                remaining = deadline - self.loop.time()
                if remaining <= 0:
                    break
                self.arrived.clear()
                try:
                    # Waiting on an Event (not on a queue's get) cannot lose an item when it times out.
                    await asyncio.wait_for(self.arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            size = self._size()
            batch, self.pending = self.pending[:size], self.pending[size:]
            await self._process(batch)

    def _size(self) -> int:
        return max(1, int(self.settings.max_batch_size))

    async def _process(self, batch) -> None:
        items = [item for item, _ in batch]
        args = (items,) if self.owner is None else (self.owner, items)
        try:
            results = await self.func(*args)
            if not isinstance(results, (list, tuple)) or len(results) != len(items):
                raise TypeError("a @serve.batch function must return one result per item ({} items, got {!r})".format(
                    len(items), type(results).__name__ if not isinstance(results, (list, tuple)) else len(results)))
        except BaseException as err:  # every caller of this batch gets the error, as in Ray
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            if isinstance(err, asyncio.CancelledError):
                raise
            return
        for (_, future), result in zip(batch, results):
            if not future.done():  # a caller that gave up (cancelled) is skipped
                future.set_result(result)


def batch(_func=None, *, max_batch_size: int = RAY_DEFAULT_MAX_BATCH_SIZE,
          batch_wait_timeout_s: float = RAY_DEFAULT_BATCH_WAIT_TIMEOUT_S, **_ray_only):
    """``@serve.batch`` on an ``async def f(self, items: list) -> list`` method (or a plain function)."""

    def decorate(func):
        if not asyncio.iscoroutinefunction(func):
            raise TypeError("@serve.batch needs an async function, got {}".format(func.__name__))
        settings = _Settings(max_batch_size, batch_wait_timeout_s)
        queues = weakref.WeakKeyDictionary()  # owner (the deployment instance) -> _BatchQueue
        plain = {}  # the queue of a plain function (no owner)

        def queue_for(owner) -> _BatchQueue:
            loop = asyncio.get_running_loop()
            current = plain.get("q") if owner is None else queues.get(owner)
            if current is None or current.loop is not loop or current.task.done():
                current = _BatchQueue(func, owner, settings)
                if owner is None:
                    plain["q"] = current
                else:
                    queues[owner] = current
            return current

        @functools.wraps(func)
        async def wrapper(*args):
            if len(args) == 2:
                owner, item = args
            elif len(args) == 1:
                owner, item = None, args[0]
            else:
                raise TypeError("a @serve.batch function takes one item per call")
            return await queue_for(owner).put(item)

        def set_max_batch_size(value: int) -> None:
            settings.max_batch_size = int(value)

        def set_batch_wait_timeout_s(value: float) -> None:
            settings.batch_wait_timeout_s = float(value)

        wrapper.set_max_batch_size = set_max_batch_size
        wrapper.set_batch_wait_timeout_s = set_batch_wait_timeout_s
        wrapper._get_max_batch_size = lambda: settings.max_batch_size
        wrapper._get_batch_wait_timeout_s = lambda: settings.batch_wait_timeout_s
        return wrapper

    return decorate(_func) if _func is not None else decorate
