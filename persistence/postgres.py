"""Transitional, for one import only: ``schema/errors.py`` still imports
``connection_lost`` from here until the schema branch of issue 14 injects the
storage-error check instead. Delete this module when that lands; the check
itself lives in :mod:`persistence.lost_connection`."""

from persistence.lost_connection import connection_lost

__all__ = ["connection_lost"]
