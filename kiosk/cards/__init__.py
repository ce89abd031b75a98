"""Volunteer cards: payload.py (the signed text a card's QR code carries), sheets.py (A4
sheets of cards to print), scanning.py (reading codes from camera frames and photos),
rescue.py (reading a worn card by its known layout)."""
