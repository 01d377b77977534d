"""Alembic is the only way the schema reaches a database, and it matches the models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from server import migrate
from server.db import make_engine
from server.models import Base


@pytest.fixture
def empty_url(empty_db_url: str) -> str:
    return empty_db_url


def test_upgrade_head_on_an_empty_database_matches_the_models(empty_url):
    engine = make_engine(empty_url)
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    engine.dispose()


def test_downgrade_base_removes_everything_and_upgrade_works_again(empty_url):
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert "tickets" in inspect(engine).get_table_names()
    engine.dispose()


def test_partial_unique_index_allows_one_active_ticket_per_counter(empty_url):
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("tickets")}
    assert indexes["uq_tickets_active_counter"]["unique"]
    engine.dispose()
