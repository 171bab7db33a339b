"""Pure analytics: returns, risk and drift metrics over a run's series."""
