"""restatedev/sdk-python's examples/, with awaken imports. They import each other by top-level
name (`from virtual_object import counter`), as when run from their directory."""
