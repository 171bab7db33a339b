"""`python -m backtest` runs the CLI (signal handlers first: `backtest._launch`)."""

from backtest._launch import main

main()
