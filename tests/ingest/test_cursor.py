"""The tailer's cursor: no row lost, none taken twice, on both backends' terms."""

from ingest.tailer import Cursor, Snapshot

SQLITE = Snapshot(serialised_writers=True)


def test_in_order_rows_move_the_watermark():
    c = Cursor()
    c.take([1, 2, 3], SQLITE)
    assert (c.watermark, c.seen, c.gaps) == (3, set(), {})
    assert not c.is_new(2) and c.is_new(4)


def test_sqlite_gap_is_a_rollback_and_closes_at_once():
    c = Cursor()
    c.take([1, 2, 4], SQLITE)
    assert c.watermark == 4 and not c.gaps


def test_postgres_gap_waits_until_every_older_writer_has_ended():
    c = Cursor()
    # id 2 is held by a writer still in flight (xid 100) when 1 and 3 are read.
    c.take([1, 3], Snapshot(xmin=100, xmax=105))
    assert c.watermark == 1 and c.gap_ids() == [2] and c.seen == {3}
    # Next read pins the gap to this snapshot's xmax; writer 100 still running.
    c.take([], Snapshot(xmin=100, xmax=107))
    assert c.gap_ids() == [2] and c.gaps[2].pinned_xmax == 107
    # Writer 100 commits: the re-read of the gap finds the row.
    c.take([2], Snapshot(xmin=104, xmax=110))
    assert c.watermark == 3 and not c.gaps and not c.seen


def test_postgres_gap_of_a_rolled_back_writer_closes_once_proven():
    c = Cursor()
    c.take([1, 3], Snapshot(xmin=100, xmax=105))
    c.take([], Snapshot(xmin=100, xmax=107))
    c.take([], Snapshot(xmin=106, xmax=109))  # xmin 106 < pin 107: writer may still run
    assert c.gap_ids() == [2]
    c.take([], Snapshot(xmin=107, xmax=109))
    assert c.watermark == 3 and not c.gaps


def test_rows_above_an_open_gap_are_not_taken_twice():
    c = Cursor()
    c.take([1, 3, 4], Snapshot(xmin=100, xmax=105))
    assert c.read_from == 4
    assert [i for i in [3, 4, 5] if c.is_new(i)] == [5]


def test_cursor_survives_a_round_trip_through_its_row():
    c = Cursor()
    c.take([1, 3, 4, 5, 9], Snapshot(xmin=100, xmax=105))
    c.take([], Snapshot(xmin=100, xmax=106))
    back = Cursor.from_row(c.to_row())
    assert (back.watermark, back.seen, back.gap_ids()) == (c.watermark, c.seen, c.gap_ids())
    assert back.gaps[2].pinned_xmax == 106
    assert c.to_row()["seen_above"] == [[3, 5], [9, 9]]
