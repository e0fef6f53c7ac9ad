"""The stage tables of ingest.bulk on real PostgreSQL: a transaction that made one and then
rolled back (a statement timeout, or given up) leaves the connection fit for the next one."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, select
from sqlalchemy.exc import OperationalError

from ingest import bulk

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True), Column("name", Text))


@pytest.fixture
def pg(pg_url):
    engine = create_engine(pg_url, pool_size=1, max_overflow=0)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
    yield engine
    engine.dispose()


def _names(conn) -> list[str]:
    return list(conn.execute(select(things.c.name).order_by(things.c.id)).scalars())


def test_a_stage_made_in_a_transaction_that_timed_out_is_made_again(pg):
    with pg.connect() as conn:
        # The first write of this connection makes the stage; a statement after it times out.
        with pytest.raises(OperationalError, match="statement timeout"):
            with conn.begin():
                bulk.update(conn, things, [{"id": 1, "name": "uno"}], key="id")
                conn.exec_driver_sql("SET LOCAL statement_timeout = 1")
                conn.exec_driver_sql("SELECT pg_sleep(1)")
        # The stage went with the rollback; the next transaction on the same link stages again.
        with conn.begin():
            bulk.update(conn, things, [{"id": 2, "name": "dos"}], key="id")
        assert _names(conn) == ["one", "dos"]
        conn.rollback()


class _GiveUp(Exception):
    pass


def test_a_stage_made_in_a_transaction_given_up_is_made_again(pg):
    with pg.connect() as conn:
        # No statement fails here: the caller gives the transaction up after the stage was made.
        with pytest.raises(_GiveUp):
            with conn.begin():
                bulk.upsert(conn, things, [{"id": 3, "name": "tres"}], key="id", update=["name"])
                raise _GiveUp
        with conn.begin():
            bulk.upsert(conn, things, [{"id": 2, "name": "dos"}, {"id": 3, "name": "tres"}], key="id", update=["name"])
        with conn.begin():  # and a committed stage is used again as it is
            bulk.update(conn, things, [{"id": 1, "name": "uno"}], key="id")
        assert _names(conn) == ["uno", "dos", "tres"]
        conn.rollback()
