"""Process exit codes of the `nlopt` command line: the one place the CLI defines them.

The codes of a solve (0 optimal / feasible, 3 infeasible, 4 unbounded, 5 time limit or
solver error) come from the result itself, `SolveResult.exit_code`
(`nlopt_milp.solve.result.EXIT_CODES`); the CLI never maps statuses to codes on its own.
This module names the codes the CLI raises outside a solve result. It imports nothing,
so `nlopt --help` can use the help text below without loading the solve layer.
"""

from __future__ import annotations

EXIT_OK = 0  # a solution was found (check: every formulation is valid)
EXIT_INVALID = 2  # invalid input: unreadable file, bad JSON, invalid formulation, bad usage
EXIT_SOLVER = 5  # solver failure without a SolveResult, a failed export, or a --check disagreement
EXIT_BACKEND = 6  # LLM backend unreachable or failing (plain-language path, eval)
EXIT_NO_FORMULATION = 7  # the model gave no valid formulation within the repair rounds
EXIT_IO = 74  # an output could not be written (disk full, I/O error); sysexits' EX_IOERR
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_CODES_HELP = """[bold]Exit codes[/bold]
  0  a solution was found (for check: every formulation is valid)
  2  invalid input: unreadable file, bad JSON, invalid formulation, usage
  3  the model is infeasible
  4  the model is unbounded
  5  solver failure, time limit without a solution, --check disagreement
  6  LLM backend unreachable or failing (plain-language problems)
  7  the model produced no valid formulation within the repair rounds
  74 an output file could not be written (disk full, I/O error); nothing half-written is left
  130 interrupted (Ctrl-C)
With several formulations (.jsonl, JSON lines on stdin) all are processed and the exit code is the largest of their codes."""
