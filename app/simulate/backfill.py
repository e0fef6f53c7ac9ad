"""Backfill: write days of history into an exchange database as fast as it takes them."""
from __future__ import annotations

import sys
from datetime import timedelta

from sqlalchemy import Engine
from tqdm import tqdm

from app.simulate.feed import Feed
from app.simulate.summary import Tally
from app.simulate.writer import open_writer


def backfill(engine: Engine, feed: Feed, end: int, *, quiet: bool = False) -> Tally:
    """Write every row that reaches the database before `end` (epoch seconds), one transaction per day."""
    last_day = feed.days.day_of(end - 1)
    total = (last_day - feed.next_day).days + 1
    writer = open_writer(engine)
    try:
        with tqdm(total=total, unit="day", file=sys.stderr, disable=quiet, desc="simulate") as bar:
            while feed.next_day <= last_day:
                day = feed.next_day
                feed.generate_through(day)
                cut = min(feed.days.midnight(day + timedelta(days=1)), end)
                events, ratings = feed.render(feed.take_until(cut))
                writer.write(events, ratings)
                bar.set_postfix_str(f"{day} rows={feed.tally.events + feed.tally.ratings:,} pending={feed.pending:,}")
                bar.update(1)
    finally:
        writer.close()
    return feed.tally
