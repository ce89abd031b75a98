"""Statistics of surveys: model.py (questions, filters, counts), figures.py (the figures
of one survey), sites.py (per street, community and kiosk)."""
