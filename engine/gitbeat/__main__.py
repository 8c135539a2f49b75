"""`python -m gitbeat`."""

from .cli import run

run()
