"""SQLAlchemy 2 storage for the domain: tables, repositories, unit of work, migrations."""
