"""Logs and traces (SPEC §9): which invocation runs (`scope`), logging that names it and stays
quiet during replay (`logs`), OpenTelemetry spans when the `otel` extra is installed
(`tracing`), and the few calls the engine makes into them (`hooks`)."""
