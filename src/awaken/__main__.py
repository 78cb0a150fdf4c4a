"""`python -m awaken`: the `awaken` command."""

from awaken.cli.main import main

main(prog_name="awaken")
