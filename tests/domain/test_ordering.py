"""Siblings are ordered by position, then creation time, then id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.circuit_tree import ordered, top_level_in_order
from domain.model import Circuit

DEPOT = UUID(int=1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _circuit(n: int, position: int, created_offset: int = 0, parent: UUID | None = None):
    return Circuit(
        id=UUID(int=n),
        depot_id=DEPOT,
        name=f"c{n}",
        parent_id=parent,
        position=position,
        created_at=T0 + timedelta(seconds=created_offset),
    )


def test_position_first_then_creation_time_then_id():
    by_position = _circuit(9, position=0, created_offset=50)
    older = _circuit(8, position=1, created_offset=0)
    newer_low_id = _circuit(2, position=1, created_offset=10)
    newer_high_id = _circuit(3, position=1, created_offset=10)

    result = ordered([newer_high_id, older, newer_low_id, by_position])

    assert [c.id.int for c in result] == [9, 8, 2, 3]


def test_top_level_order_ignores_children():
    top = _circuit(1, 1)
    child = _circuit(2, 0, parent=UUID(int=1))
    first = _circuit(3, 0)
    assert [c.id.int for c in top_level_in_order([top, child, first])] == [3, 1]
