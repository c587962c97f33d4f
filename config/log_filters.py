"""Logging filters: keep the terminal to one line per batch of work, not one per task.

django-q2 logs every task at INFO three times ("Enqueued …" where it is queued,
"… processing …" and "Processed …" in the worker): seeding or re-scoring 2,000
images printed 6,000 lines. The commands print one summary line instead, and the
admin dashboard shows how much background scoring is left. ``LOG_EACH_TASK=1``
brings the per-task lines back for debugging; warnings and errors always pass.
"""

from __future__ import annotations

import logging

PER_TASK_PREFIXES = ("Enqueued ", "Processed ")
PER_TASK_INFIX = " processing "


class PerTaskNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not (message.startswith(PER_TASK_PREFIXES) or PER_TASK_INFIX in message)
