"""`python -m nlopt_milp ...` is `nlopt ...`."""

from .cli.app import main

if __name__ == "__main__":
    main()
