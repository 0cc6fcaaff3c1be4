"""Alembic environment: runs on the connection the governance store hands over (never reads a URL itself)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.migration import MigrationContext, MigrationInfo

from plateledger.core.crashpoints import crashpoint
from plateledger.store.models import Base


def _applied(ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]) -> None:
    crashpoint("governance.migration_applied")  # tests: a kill -9 between two migrations of one upgrade


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, on_version_apply=_applied)
with context.begin_transaction():
    context.run_migrations()
