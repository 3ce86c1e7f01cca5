"""`python -m tokenmill`: the `tokenmill` command."""
from tokenmill.jobs.cli import main

main()
