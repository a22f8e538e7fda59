"""The canonical CRM schema and database connections."""
