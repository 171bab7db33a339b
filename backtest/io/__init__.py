"""Edges: loading prices, halts, calendars and strategy files; writing outputs."""
