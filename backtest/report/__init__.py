"""Reports: PNG charts and the HTML page, from a run's files."""
