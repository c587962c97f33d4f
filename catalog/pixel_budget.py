"""How many pixels one process may hold decoded at once.

A request that must decode pixels (batch scoring, an image format that cannot
be checked without decoding) reserves them here first. A reservation larger
than the whole budget can never fit and is refused at once; one that does not
fit now waits up to ``wait`` seconds, then is refused as "busy" so the caller
can answer 503 with ``Retry-After``. Threads of one process (``runserver``,
gunicorn's threaded workers) share the budget; processes each have their own.

Pure core: no Django.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class PixelBudgetError(RuntimeError):
    """Decoding was not started: the pixels do not fit the process's budget."""


class PixelBudgetBusy(PixelBudgetError):
    """Other requests hold the budget now; the same request may succeed shortly."""


class PixelBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._condition = threading.Condition()

    @contextmanager
    def reserve(self, pixels: int, *, wait: float = 10.0) -> Iterator[None]:
        """Hold ``pixels`` of the budget for the ``with`` block."""
        if pixels > self.capacity:
            raise PixelBudgetError(
                f"Decoding {pixels:,} pixels at once exceeds this server's budget of "
                f"{self.capacity:,} pixels (DECODE_PIXEL_BUDGET)."
            )
        deadline = time.monotonic() + wait
        with self._condition:
            while self.in_use + pixels > self.capacity:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PixelBudgetBusy(
                        "The server is decoding other large images; try again in a few seconds."
                    )
                self._condition.wait(remaining)
            self.in_use += pixels
        try:
            yield
        finally:
            with self._condition:
                self.in_use -= pixels
                self._condition.notify_all()


_budgets: dict[int, PixelBudget] = {}
_budgets_lock = threading.Lock()


def process_budget(capacity: int) -> PixelBudget:
    """The process-wide budget of this capacity (one per configured value, so tests can vary it)."""
    with _budgets_lock:
        budget = _budgets.get(capacity)
        if budget is None:
            budget = _budgets[capacity] = PixelBudget(capacity)
        return budget
