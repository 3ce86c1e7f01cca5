"""A per-worker memo with bounded memory: it forgets everything once it holds `limit` entries."""
from __future__ import annotations

DEFAULT_LIMIT = 200_000


class BoundedMemo(dict):
    def __init__(self, limit: int = DEFAULT_LIMIT):
        super().__init__()
        self.limit = limit

    def put(self, key, value):
        """Store `value` under `key` (emptying the memo first when full) and return it."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
