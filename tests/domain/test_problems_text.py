"""What a problem says to the person who reads it."""

from domain.problems import NotFound


def test_a_not_found_without_a_readable_id_never_says_none():
    assert NotFound("Depot", None).message == "No Depot with that id."
    assert NotFound("Depot", "d-1").message == "No Depot with id d-1."
