"""Which exchange rows are new: a cursor over an append-only table that never
loses a row and never yields one twice.

``event_id`` grows in INSERT order, not commit order. On PostgreSQL a writer
that took id 41 may commit after id 42 was already read, so "everything above
the highest id read" would lose 41 for ever. The cursor therefore keeps

* ``watermark``: every id at or below it is taken in or known never to commit;
* ``seen``: ids above the watermark already taken in (kept as ranges);
* ``gaps``: ids above the watermark that were missing when a larger id was read.

A gap is closed when the database proves that every transaction that could
still hold it has ended. PostgreSQL provides that proof with its snapshots:
a gap seen in a read is pinned to ``xmax`` of the *following* read's snapshot
(taken at least one poll later, so a writer between ``nextval`` and its first
tuple has certainly been given its transaction id), and once a snapshot's
``xmin`` passes that pin, the gap id is either visible or never will be. On
SQLite writers are serialised, so ids commit in order and a missing id is
a rolled-back one: gaps close at once.

The cursor is plain data, saved in the same transaction as the results it
produced, so a crash at any instant replays exactly what was not committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class Gap:
    event_id: int
    pinned_xmax: int | None = None  # None: not pinned yet (wait for the next snapshot)

    def to_json(self) -> list:
        return [self.event_id, self.pinned_xmax]

    @classmethod
    def from_json(cls, value: list) -> Gap:
        return cls(int(value[0]), None if value[1] is None else int(value[1]))


def _to_ranges(ids: Iterable[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for i in sorted(ids):
        if ranges and i == ranges[-1][1] + 1:
            ranges[-1][1] = i
        elif not ranges or i > ranges[-1][1]:
            ranges.append([i, i])
    return ranges


def _from_ranges(ranges: Iterable[list[int]]) -> set[int]:
    return {i for a, b in ranges for i in range(a, b + 1)}


@dataclass
class Cursor:
    """Where a tailer stands in one exchange table."""

    watermark: int = 0
    seen: set[int] = field(default_factory=set)
    gaps: dict[int, Gap] = field(default_factory=dict)

    # --- persistence -----------------------------------------------------
    def to_row(self) -> dict:
        return {
            "watermark": self.watermark,
            "seen_above": _to_ranges(self.seen),
            "gaps": [g.to_json() for g in sorted(self.gaps.values(), key=lambda g: g.event_id)],
        }

    @classmethod
    def from_row(cls, row) -> Cursor:
        if row is None:
            return cls()
        gaps = (Gap.from_json(g) for g in row["gaps"])
        return cls(int(row["watermark"]), _from_ranges(row["seen_above"]), {g.event_id: g for g in gaps})

    # --- reading ---------------------------------------------------------
    def is_new(self, event_id: int) -> bool:
        return event_id > self.watermark and event_id not in self.seen

    def gap_ids(self) -> list[int]:
        return sorted(self.gaps)

    @property
    def read_from(self) -> int:
        """Rows above this id are unread; below it only the gap ids can still appear."""
        return max(self.seen, default=self.watermark)

    def take(self, event_ids: Iterable[int], snapshot: Snapshot) -> None:
        """Record that `event_ids` were taken in from one snapshot, which also
        re-read every open gap id.

        Open gaps are settled against this snapshot first; ids now skipped
        between the watermark and the largest id read become new gaps, pinned
        only by the next snapshot. The watermark then moves over every id
        that is settled.
        """
        taken = set(event_ids)
        for i in taken:
            self.gaps.pop(i, None)
        self._settle_gaps(snapshot)
        previous_top = self.read_from
        self.seen |= taken
        for i in range(previous_top + 1, self.read_from):
            if i not in self.seen:
                self.gaps[i] = Gap(i)
        if snapshot.serialised_writers:
            self.gaps.clear()
        self._advance()

    def _settle_gaps(self, snapshot: Snapshot) -> None:
        for gap in list(self.gaps.values()):
            if snapshot.serialised_writers:
                del self.gaps[gap.event_id]
            elif gap.pinned_xmax is None:
                gap.pinned_xmax = snapshot.xmax
            elif snapshot.xmin >= gap.pinned_xmax:
                # Every writer that could hold this id has ended, and this
                # snapshot did not show the row: it was rolled back.
                del self.gaps[gap.event_id]

    def _advance(self) -> None:
        top = self.read_from
        while self.watermark < top and self.watermark + 1 not in self.gaps:
            self.watermark += 1
            self.seen.discard(self.watermark)


@dataclass(frozen=True)
class Snapshot:
    """What the database says about in-flight writers at the moment of a read."""

    xmin: int = 0
    xmax: int = 0
    serialised_writers: bool = False  # SQLite: one writer at a time, ids commit in order


def batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
