"""``python -m tierroute``: the same command line as the ``tierroute`` script."""

from tierroute.cli import main

if __name__ == "__main__":
    main()
