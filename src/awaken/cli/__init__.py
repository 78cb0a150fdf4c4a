"""The `awaken` command line: thin, it parses arguments and calls the engine or the client."""
