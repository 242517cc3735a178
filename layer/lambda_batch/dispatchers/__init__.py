"""One dispatcher per AWS service; each packs submitted items into the fewest batch calls."""
