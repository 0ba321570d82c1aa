"""Data layer (filled in below)."""
