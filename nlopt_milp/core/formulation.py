"""The five-element formulation: sets, parameters, variables, objective, constraints.

This is the one data model every stage speaks (LLM output, validation, solving,
export, datasets). It is stored as versioned JSON. Expressions are plain strings in
the expression language of :mod:`nlopt_milp.core.expr`, so the JSON Schema has no
recursion and stays within what grammar-constrained decoders accept.
"""

from __future__ import annotations

import keyword
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

FORMAT_VERSION = "1"

# A set element: a number or a text; when two are the same is decided by `elements` (one rule).
# Strict: JSON true/false are not the elements 1/0.
Element = Union[StrictInt, StrictFloat, StrictStr]
Sense = Literal["<=", ">=", "=="]
Number = float

# Parameter values are scalars or dense, row-major nested lists aligned with the
# order of the elements of the index sets (bounded depth: no recursive schema).
ParamValue = Union[
    Number,
    list[Number],
    list[list[Number]],
    list[list[list[Number]]],
]

# An expression string, e.g. "sum(cost[i] * x[i] for i in I)".
# No maxLength in the schema: grammar engines (llama.cpp) unroll it into thousands of rules.
# The expression parser enforces its own limit (expr.MAX_LENGTH) and reports it with a path.
Expr = Annotated[str, Field(min_length=1)]
# Words the expression parser cannot read as names (Python keywords) or gives a meaning (sum).
RESERVED_NAMES = frozenset(keyword.kwlist) | {"sum"}


def _not_reserved(name: str) -> str:
    if name in RESERVED_NAMES:
        raise ValueError(f"`{name}` is a reserved word; rename it")
    return name


# Constraint names never appear in expressions: any word will do. Every other name may.
ConstraintName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]
Name = Annotated[ConstraintName, AfterValidator(_not_reserved)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Set(_Model):
    name: Name
    elements: list[Element] = Field(description="The members of the set, in order.")
    description: str = ""


class Parameter(_Model):
    name: Name
    index: list[Name] = Field(default_factory=list, description="Names of the sets that index it, in order.")
    value: ParamValue = Field(description="A number, or nested lists aligned with the index sets' elements.")
    description: str = ""


class Variable(_Model):
    name: Name
    index: list[Name] = Field(default_factory=list)
    domain: Literal["continuous", "integer", "binary"] = "continuous"
    lower: Number | Name | None = Field(
        default=0.0, description="Number, a parameter name (indexed like the variable), or null for no bound."
    )
    upper: Number | Name | None = Field(default=None, description="As `lower`; null means unbounded.")
    description: str = ""


class Objective(_Model):
    sense: Literal["minimize", "maximize"]
    expr: Expr
    description: str = ""


class Binding(_Model):
    """`for index in set` — quantifies a constraint or a generator."""

    index: Name
    set: Name


class UnusedNumber(_Model):
    """A number of the problem text that the formulation deliberately does not use."""

    value: str
    reason: str


# --- constraints: one class per template, discriminated by `template` -------------


class _ConstraintBase(_Model):
    name: ConstraintName
    source: str = Field(default="", description="The sentence of the problem text this constraint comes from.")
    forall: list[Binding] = Field(default_factory=list, description="Quantifiers: one constraint per combination.")
    where: Expr | None = Field(default=None, description="Filter over the quantified indices, e.g. \"i != j\".")


class UpperBoundSlots(_Model):
    var: Expr = Field(description="The bounded term, usually one variable, e.g. \"x[i]\".")
    limit: Expr = Field(description="Constant: number or parameter expression.")


class LowerBoundSlots(UpperBoundSlots):
    pass


class SumBoundSlots(_Model):
    terms: list[Expr] = Field(min_length=1, description="Terms whose total is bounded.")
    sense: Sense = "<="
    limit: Expr


class LinearSlots(_Model):
    terms: list[Expr] = Field(min_length=1, description="Terms such as \"3 * x\" or \"sum(a[r,p] * x[p] for p in P)\".")
    sense: Sense
    limit: Expr = Field(description="Constant right-hand side: capacity, demand or budget.")


class RatioSlots(_Model):
    var: Expr = Field(description="The part.")
    total: list[Expr] = Field(min_length=1, description="Terms that make up the whole.")
    ratio: Expr = Field(description="Fraction between 0 and 1.")
    sense: Sense = ">="


class MultipleSlots(_Model):
    x: Expr
    factor: Expr = Field(description="Constant c in x <sense> c * y.")
    y: Expr
    sense: Sense = "<="


class ComparisonSlots(_Model):
    x: Expr
    y: Expr
    sense: Sense = "<="


class BalanceSlots(_Model):
    inflow: Expr
    outflow: Expr
    demand: Expr = Field(default="0", description="Net demand: inflow - outflow = demand.")
    sense: Sense = "=="


class AssignmentSlots(_Model):
    var: Expr = Field(description="The assignment variable with free indices, e.g. \"x[i,j]\".")
    over: list[Binding] = Field(min_length=1, description="Indices summed over.")
    count: Expr = "1"
    sense: Sense = "=="


class IfThenSlots(_Model):
    condition: Expr = Field(description="A binary variable; when it is 1, `then` must hold.")
    then: Expr = Field(description="A linear comparison, e.g. \"x[i] >= 10\".")
    big_m: Expr | None = Field(default=None, description="Optional; derived from bounds when absent.")


class EitherOrSlots(_Model):
    first: Expr = Field(description="A linear comparison.")
    second: Expr = Field(description="Another linear comparison; at least one of the two holds.")
    big_m: Expr | None = None


class KOfNSlots(_Model):
    terms: list[Expr] = Field(min_length=1, description="Binary variables or sums of them.")
    mode: Literal["at_least", "at_most", "exactly"]
    k: Expr


class FixedChargeSlots(_Model):
    var: Expr = Field(description="Activity that needs the setup.")
    indicator: Expr = Field(description="Binary setup variable.")
    capacity: Expr | None = Field(default=None, description="Big-M; the variable's upper bound when absent.")
    cost: Expr | None = Field(default=None, description="Setup cost added to the objective; leave it out of the objective then.")


class MutualExclusionSlots(_Model):
    terms: list[Expr] = Field(min_length=2, description="Binaries of which at most one is 1.")


class DependencySlots(_Model):
    if_var: Expr = Field(description="Binary: choosing this ...")
    then_var: Expr = Field(description="... requires this binary.")


class SemiContinuousSlots(_Model):
    var: Expr
    minimum: Expr = Field(description="When positive, the variable is at least this.")
    maximum: Expr | None = Field(default=None, description="Upper limit; the variable's upper bound when absent.")
    indicator: Expr | None = Field(default=None, description="Optional binary 'produce at all'; created when absent.")


class GeneralSlots(_Model):
    expr: Expr = Field(description="A linear comparison, e.g. \"sum(x[i] for i in I) <= 10\".")


class UpperBound(_ConstraintBase):
    template: Literal["upper_bound"]
    slots: UpperBoundSlots


class LowerBound(_ConstraintBase):
    template: Literal["lower_bound"]
    slots: LowerBoundSlots


class SumBound(_ConstraintBase):
    template: Literal["sum_bound"]
    slots: SumBoundSlots


class Linear(_ConstraintBase):
    template: Literal["linear"]
    slots: LinearSlots


class Ratio(_ConstraintBase):
    template: Literal["ratio"]
    slots: RatioSlots


class Multiple(_ConstraintBase):
    template: Literal["multiple"]
    slots: MultipleSlots


class Comparison(_ConstraintBase):
    template: Literal["comparison"]
    slots: ComparisonSlots


class Balance(_ConstraintBase):
    template: Literal["balance"]
    slots: BalanceSlots


class Assignment(_ConstraintBase):
    template: Literal["assignment"]
    slots: AssignmentSlots


class IfThen(_ConstraintBase):
    template: Literal["if_then"]
    slots: IfThenSlots


class EitherOr(_ConstraintBase):
    template: Literal["either_or"]
    slots: EitherOrSlots


class KOfN(_ConstraintBase):
    template: Literal["k_of_n"]
    slots: KOfNSlots


class FixedCharge(_ConstraintBase):
    template: Literal["fixed_charge"]
    slots: FixedChargeSlots


class MutualExclusion(_ConstraintBase):
    template: Literal["mutual_exclusion"]
    slots: MutualExclusionSlots


class Dependency(_ConstraintBase):
    template: Literal["dependency"]
    slots: DependencySlots


class SemiContinuous(_ConstraintBase):
    template: Literal["semi_continuous"]
    slots: SemiContinuousSlots


class General(_ConstraintBase):
    template: Literal["general"]
    slots: GeneralSlots


Constraint = Annotated[
    Union[
        UpperBound, LowerBound, SumBound, Linear, Ratio, Multiple, Comparison, Balance,
        Assignment, IfThen, EitherOr, KOfN, FixedCharge, MutualExclusion, Dependency,
        SemiContinuous, General,
    ],
    Field(discriminator="template"),
]

TEMPLATE_NAMES: tuple[str, ...] = (
    "upper_bound", "lower_bound", "sum_bound", "linear", "ratio", "multiple", "comparison",
    "balance", "assignment", "if_then", "either_or", "k_of_n", "fixed_charge",
    "mutual_exclusion", "dependency", "semi_continuous", "general",
)


# template name -> its slots model
SLOT_MODELS: dict[str, type[_Model]] = {
    c.model_fields["template"].annotation.__args__[0]: c.model_fields["slots"].annotation
    for c in Constraint.__origin__.__args__  # type: ignore[attr-defined]
}


def meaning_slots(template: str) -> list[str]:
    """Slots whose default picks a meaning (a direction, a demand, a count).

    A person writing a file may leave them out and get the default; what a model fills
    must state them (`nlopt_milp.formulate` requires them), since a missing `sense`
    silently picks a direction.
    """
    return [n for n, f in SLOT_MODELS[template].model_fields.items() if not f.is_required() and f.default is not None]


class Formulation(_Model):
    version: Literal["1"] = FORMAT_VERSION
    name: str = ""
    problem: str = Field(default="", description="The problem text, verbatim.")
    sets: list[Set] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    variables: list[Variable] = Field(min_length=1)
    objective: Objective
    constraints: list[Constraint] = Field(default_factory=list)
    unused_numbers: list[UnusedNumber] = Field(
        default_factory=list, description="Numbers in the problem text deliberately not used, with why."
    )

    # lookups used everywhere
    def set_by_name(self) -> dict[str, Set]:
        return {s.name: s for s in self.sets}

    def param_by_name(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters}

    def var_by_name(self) -> dict[str, Variable]:
        return {v.name: v for v in self.variables}


def json_schema() -> dict:
    """The JSON Schema of the formulation file format (what `nlopt schema` prints)."""
    return Formulation.model_json_schema()
