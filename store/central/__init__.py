"""The central PostgreSQL of a street or city: connection.py (connecting, errors), schema.py
(versions and migrations), push.py (what syncs and bundles send), tallies.py (city-wide
counts kept as submissions arrive), stats.py (reading them), volunteers.py (the roster and
the hours of every site). psycopg is imported nowhere else."""
