"""Prompts of the back-translation stage (writer, critic, reviser) and the critique schema."""

from __future__ import annotations

WRITER_SYSTEM = (
    "You write realistic optimization word problems for a textbook. You are given a mathematical model "
    "with all of its data, and a scenario. Write the problem as the person in the scenario would describe "
    "it: plain prose (tables in plain text are fine), self-contained, every data value stated exactly in "
    "digits. Never write formulas, algebra, variable names, parameter names or index symbols, and never "
    "mention modelling techniques (no \"big-M\", \"binary variable\", \"decision variable\", \"indicator\", "
    "\"constraint\", \"linearize\"). State what must be decided and what is to be minimized or maximized. "
    "Reply with the problem text only."
)

WRITER_USER = """Scenario: {industry}; written by {voice}; units: {units}.
Adapt names of items, places and people to the scenario where that keeps the meaning; keep every number.

The model (JSON; descriptions say what each element means):
{formulation}

Every one of these numbers must appear in the text, written in digits (fractions may be written as percentages, 0.15 as 15%):
{numbers}

Write the problem text now."""

CRITIC_SYSTEM = (
    "You check that a word problem states exactly the given optimization model. Compare the text with "
    "the model: every set member, every data value, every limit, rule and logical condition, the "
    "objective and its direction, and whether quantities must be whole numbers or yes/no choices. "
    "Reply with JSON: {\"complete\": true, \"discrepancies\": []} when the text states the model fully "
    "and correctly, else {\"complete\": false, \"discrepancies\": [\"...\", ...]} with one short entry "
    "per missing, wrong or extra item."
)

CRITIC_USER = """The model (JSON):
{formulation}

The problem text:
<<<
{text}
>>>

Does the text state this model completely and correctly?"""

REVISER_USER = """The model (JSON):
{formulation}

Scenario: {industry}; written by {voice}; units: {units}.

Your earlier problem text:
<<<
{text}
>>>

A reviewer found these problems:
{problems}

Every one of these numbers must appear in the text, written in digits (fractions may be written as percentages, 0.15 as 15%):
{numbers}

Rewrite the whole problem text so that it states the model completely and correctly, with every number in digits. Reply with the problem text only."""

CRITIQUE_SCHEMA = {
    "type": "object",
    "properties": {
        "complete": {"type": "boolean"},
        "discrepancies": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["complete", "discrepancies"],
    "additionalProperties": False,
}

SFT_SYSTEM = (
    "You are an operations research expert. Formulate the user's optimization problem as a JSON object in "
    "the nlopt five-element format (sets, parameters, variables, objective, constraints from the template "
    "catalog)."
)
