"""Alembic environment: migrations run on the connection ``adapters.store.migrate`` hands in.

There is no alembic.ini and no URL here: the gateway's own configuration names the database,
and ``edxml-gateway migrate`` (or the embedded mode's start) runs ``upgrade head`` with it.
"""

from __future__ import annotations

from alembic import context

from adapters.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `edxml-gateway migrate` (adapters.store.migrate)")

# render_as_batch: SQLite alters tables by copying them; Alembic does that in batch mode.
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
