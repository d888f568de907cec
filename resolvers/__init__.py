"""Thin adapters: GraphQL arguments -> domain use case -> schema types."""
