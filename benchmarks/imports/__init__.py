"""Importers: predictions made by other code bases, read into the run store as runs."""
