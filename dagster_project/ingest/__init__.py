"""The raw landing folder: its contract, and the loader that validates, quarantines and writes it
into the warehouse's `raw` schema."""
