"""Alembic environment: runs migrations on the engine handed over by app.base.database.

Several processes may start at once against one fresh database (a boot script
starts the ingest, the video workers and the web together). Each holds one lock
(app.base.locks) from before Alembic reads the schema's revision until after the
migration has committed, so the first migrates and the others then find the
schema at the newest revision and do nothing.
"""

from alembic import context

from app.base.locks import holding
from app.base.tables import metadata

LOCK = "supervise-migrations"


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with holding(engine, LOCK), engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
