"""`nlopt synth`: verified training data from generators, back-translation and rejection sampling.

Stages, each a module with one job: `generate` (instances from the generator families,
labelled by HiGHS), `backtranslate` (an LLM writes the problem text; critique, refine,
number audit), `verify` (our pipeline formulates the text again; accepted when the optimum
matches), `dataset` (the Hugging Face dataset folder), `stats`. Every stage appends JSONL
records as they finish, under a lock, and resumes after a crash.
"""
