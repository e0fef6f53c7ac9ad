"""Which worker process pulls which camera: ``supervise video --shard I/N``.

Shards are numbered from 0 (``0/4`` … ``3/4``), so a StatefulSet ordinal or a
systemd instance number can be used as is. A camera belongs to the shard with
the highest hash of (camera_id, shard): rendezvous hashing. It is stable across
processes and machines (no Python ``hash()``), every camera lands in exactly
one shard, and going from N to N+1 shards moves only about 1/(N+1) of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= I < N (shards count from 0)")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` → Shard(I, N)."""
        index, sep, count = text.partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(index), int(count))
        except ValueError as exc:
            detail = str(exc) if str(exc) else f"{text!r} is not I/N, e.g. 0/4"
            raise ValueError(f"bad shard: {detail}") from None

    def owns(self, camera_id: str) -> bool:
        return shard_of(camera_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(camera_id: str, count: int) -> int:
    """The shard (0 … count-1) that pulls `camera_id`."""
    return max(range(count), key=lambda shard: _weight(camera_id, shard))


def _weight(camera_id: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{camera_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
