"""The database: tables, migrations, repositories that return dataclasses, the call trail and
the call memory."""
