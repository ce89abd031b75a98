"""A kiosk and the central database: sync.py (``kiosk sync``) and bundles.py (offline
bundles carried on a USB stick)."""
