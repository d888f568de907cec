"""Thin adapters: GraphQL arguments (ids as strings, plain values, domain
commands) -> domain use case -> the domain's result. No Strawberry types: the
schema maps what these return."""
