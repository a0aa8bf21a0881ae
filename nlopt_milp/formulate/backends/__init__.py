"""LLM backends; import them from :mod:`nlopt_milp.formulate.llm`."""
