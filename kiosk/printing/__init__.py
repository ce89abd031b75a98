"""Receipts at the kiosk: queue.py (the print queue and its worker), receipts.py (what each
slip says), commands.py (staff commands: reprint, preview, test page)."""
