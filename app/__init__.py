"""The composition root: settings, the ASGI app, the CLI. Only this package knows every piece."""
