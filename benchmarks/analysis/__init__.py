"""Analysis: paper-style tables, figures and reference numbers from the tidy results table."""
