"""The application: scenario loading, run / compare / replay, metrics, plots, CLI."""
