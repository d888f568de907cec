"""The depot microgrid model and its use cases. Pure Python: no framework imports."""
