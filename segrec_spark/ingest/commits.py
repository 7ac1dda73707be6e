"""Delta commits that survive a concurrent writer: retry on a commit conflict, else one line."""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from segrec_spark.errors import SegrecError
from segrec_spark.ingest.reading import java_cause

log = logging.getLogger("segrec_spark.ingest.job")


# Delta commit conflicts that a retry resolves: another writer (e.g. a concurrent ingest of
# another source) committed to the same table between this write's read and its commit.
CONFLICTS = ("ConcurrentAppendException", "ConcurrentModificationException",
             "ConcurrentWriteException", "ConcurrentDeleteReadException",
             "ConcurrentTransactionException", "MetadataChangedException",
             "ProtocolChangedException", "DELTA_CONCURRENT", "DELTA_METADATA_CHANGED",
             "DELTA_PROTOCOL_CHANGED")
COMMIT_ATTEMPTS = 5
COMMIT_BACKOFF_SECONDS = 0.5


def _is_conflict(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(name in text for name in CONFLICTS)


def _commit(write: Callable[[], None], path: str, attempts: int = COMMIT_ATTEMPTS,
            backoff: float = COMMIT_BACKOFF_SECONDS) -> None:
    """Run one Delta write, retrying it on a commit conflict (a few attempts, exponential backoff
    with jitter). A replaceWhere write replaces exactly its slice, so a retry is safe; a conflict
    on every attempt is one SegrecError line naming the table."""
    for attempt in range(1, attempts + 1):
        try:
            write()
            return
        except Exception as exc:  # noqa: BLE001 - only commit conflicts are retried
            if not _is_conflict(exc):
                raise
            cause = java_cause(exc)
            if attempt == attempts:
                raise SegrecError(
                    f"{path}: Delta commit conflict on each of {attempts} attempts ({cause}); "
                    "another job keeps writing this table: run ingest again when it is done"
                ) from None
            wait = backoff * 2 ** (attempt - 1) * (1 + random.random())
            log.warning("%s: commit conflict (%s), retry %d of %d in %.1f s", path, cause,
                        attempt, attempts - 1, wait)
            time.sleep(wait)
