"""Every Alembic revision runs up and down on both stores and matches the tables."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from persistence import schema_upgrade
from persistence.database import create_engine
from persistence.tables import metadata

pytestmark = pytest.mark.database_only("Alembic migrations of a database")


async def test_migrated_database_is_at_head_with_every_table(database_url):
    engine = create_engine(database_url)
    try:
        assert await schema_upgrade.current_revision(engine) == schema_upgrade.head_revision()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert set(metadata.tables) <= tables


def test_downgrade_to_base_and_upgrade_again(tmp_path, store, request):
    if store == "postgresql":
        from tests.support import services

        url, name = services.create_postgres_database()
        try:
            schema_upgrade.downgrade(url, "base")
            schema_upgrade.upgrade(url)
        finally:
            services.drop_postgres_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        schema_upgrade.upgrade(url)
        schema_upgrade.downgrade(url, "base")
        schema_upgrade.upgrade(url)
