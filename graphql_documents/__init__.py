"""Readers of the data in graphql/: the named operations and the exported SDL.

Shared by the service (it serves the console's operations) and by clients that
reach the service only over HTTP (the simulator, the tests): it imports none of
the service's packages, only graphql-core."""

from pathlib import Path

GRAPHQL_DIR = Path(__file__).resolve().parents[1] / "graphql"
