"""The sans-IO journal machine and the pure values around it (ids, durations, retry policy)."""
