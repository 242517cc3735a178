"""Event sources: one module per source (its record classes, intake and ids), and the spec table."""
