"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from plateledger.store.governance import Governance
from plateledger.store.models import Base


def test_migrations_match_models(tmp_path: Path) -> None:
    governance = Governance(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        with governance.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        governance.close()


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    Governance(url).close()
    governance = Governance(url)
    try:
        with governance.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == "0013"
    finally:
        governance.close()
