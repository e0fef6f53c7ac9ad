"""Alembic environment: runs migrations on the engine handed over by app.database."""
from alembic import context
from sqlalchemy import text

from app.tables import metadata

# Several processes may start at once against one database; only one migrates.
ADVISORY_LOCK = 7_401_2024


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK})
        try:
            context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
                connection.commit()


run_migrations_online()
