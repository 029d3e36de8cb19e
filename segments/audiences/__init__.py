"""The MECE audience builder: ordered rules over a universe, size bounds, and per-segment scores."""
