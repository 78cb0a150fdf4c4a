"""The handler-facing SDK: services, contexts, serde, combinators (restate-sdk's API)."""
