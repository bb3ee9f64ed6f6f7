"""`python -m netvigil` runs the command line."""

from netvigil.cli import main

main()
