"""restatedev/examples python/patterns-use-cases, with awaken imports. They import each other by
top-level package (`from sagas.clients import ...`), as when run from this directory."""
