"""Feature flags through OpenFeature: the service's provider (backed by its
database) and the evaluator the use cases call. The only package that imports
``openfeature``; the composition root wires it."""
