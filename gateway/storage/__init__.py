"""SQLAlchemy storage adapter: row tables, the unit of work and repositories."""
