"""The operator console: static files served at / by the service itself.
It uses only the public GraphQL API (HTTP and graphql-transport-ws)."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
