"""The kiosk's SQLite database (``KioskStore``, kiosk_store.py), one module per concern."""
