"""Benchmark datasets for ``nlopt eval``: the *dataset* part of dataset + solver + scorer + log.

Two entry points, both returning a :class:`LoadedBenchmark` (samples plus the records whose
ground truth could not be used, with the reason):

* :func:`load_benchmark` — a registered benchmark (see :data:`BENCHMARKS`) through
  ``datasets.load_dataset`` from the Hugging Face hub (or its local cache). Without network it
  fails fast with a :class:`DatasetError` that names ``--file`` and the matching local file
  under ``../shared/benchmarks`` when there is one.
* :func:`load_file` — a local JSON list, JSON Lines (also when named ``.json``), or parquet file,
  read by the same ``datasets.load_dataset`` (builders ``json`` / ``parquet``) after
  :func:`check_input_file` (what the path is; the size limit), recognising the field conventions ``en_question``/``en_answer`` (ORLM / OptMATH),
  ``question``/``answer`` (LLMOPT) and ``Question``/``Answer`` (Mamo), or explicit fields.

Ground truths are normalised by :func:`normalize_answer`: numbers and numeric strings
(``"1,234.5"``, ``"$300"``, ``" 12 "``) become ``float``; texts that say there is no optimal
solution (``"No Best Solution"`` as written by ORLM's NL4OPT, ``"infeasible"``, ``"None"``,
``"no feasible solution"``, ``"unbounded"`` ...) become the sentinel :data:`INFEASIBLE`
(``"infeasible"``: *the problem has no optimal solution*, infeasible or unbounded — the
meaning ORLM's ``No Best Solution`` has). Anything else is reported in
``LoadedBenchmark.excluded`` and left out.

Answer forms found in the shared files (checked over every record): JSON ints and floats
(llmopt/*, OptMATH_Bench.json), numeric strings ``"123"``, ``"-3"``, ``"12.5"`` (mamo/*,
optmath/*), one string with a leading space ``" 172666.667"`` (MAMO ComplexLP, both copies),
and ``"No Best Solution"`` (17 records of optmath/NL4OPT.json). No file contains null, NaN,
currency signs or thousands separators; those forms are handled anyway (JSON null, NaN and
empty strings count as *missing*, so they are excluded, while the text ``"None"`` counts as
"no solution").
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import math
import os
import re
import socket
import stat
import sys
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, NamedTuple, Sequence, Union
from urllib.parse import urlparse

from ..data.shared import shared_benchmarks_dir

INFEASIBLE: Literal["infeasible"] = "infeasible"
"""Ground-truth sentinel: the problem has no optimal solution (infeasible or unbounded)."""

Answer = Union[float, None, Literal["infeasible"]]

# Where the byte-for-byte copies of the published benchmarks live: ``../shared/benchmarks`` seen
# from the checkout, or NLOPT_DATA_DIR / ``nlopt --data-dir`` (see nlopt_milp/data/shared.py).
SHARED_BENCHMARKS = shared_benchmarks_dir()

HUB_PROBE_TIMEOUT = 3.0
"""Seconds to wait for a TCP connection to the hub (or the HTTPS proxy) before going offline."""


class DatasetError(Exception):
    """A benchmark could not be loaded; the message says what to do instead."""


class AnswerError(ValueError):
    """A ground-truth value that is neither a number nor a 'no solution' text."""


@dataclass(frozen=True)
class Sample:
    """One benchmark problem.

    ``answer`` is the normalised ground truth: a float, :data:`INFEASIBLE`, or ``None`` when
    the problem has no ground truth (only with ``load_file(..., require_answer=False)``).
    ``raw_answer`` is the value as the file has it. ``meta`` keeps the record's other fields
    (e.g. ``ori``, ``Category``, ``Type``).
    """

    id: str
    question: str
    answer: Answer
    raw_answer: Any
    benchmark: str
    meta: dict = field(default_factory=dict, compare=False, repr=False)
    problem_id: str = ""  # stable id (see `problem_id()`); derived from the text when not given

    def __post_init__(self) -> None:
        if not self.problem_id:
            object.__setattr__(self, "problem_id", problem_id(self.benchmark, self.question))

    def to_dict(self) -> dict:
        return {
            "problem_id": self.problem_id,
            "id": self.id,
            "benchmark": self.benchmark,
            "question": self.question,
            "answer": self.answer,
            "raw_answer": self.raw_answer,
        }


class Excluded(NamedTuple):
    """A record left out of the benchmark: its id, the raw ground truth and why."""

    id: str
    raw_answer: Any
    reason: str


@dataclass
class LoadedBenchmark:
    """Samples of one benchmark plus the records that were excluded (unusable ground truth)."""

    benchmark: str
    samples: list[Sample]
    excluded: list[Excluded] = field(default_factory=list)
    source: str = ""
    dataset_sha256: str | None = None  # hash of all records (see `content_sha256`)
    file_sha256: str | None = None  # hash of the file's bytes (local files)
    records: int | None = None  # records in the whole benchmark (before --limit / --ids)

    @property
    def n_excluded(self) -> int:
        return len(self.excluded)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def summary_line(self) -> str:
        text = f"{self.benchmark}: {len(self.samples)} problems from {self.source}"
        if self.excluded:
            text += f"; {len(self.excluded)} excluded (unusable ground truth)"
        return text


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a benchmark lives and how its records are spelled.

    ``hub_id`` is None where no Hugging Face dataset is known (load it with ``--file``).
    ``local_files`` are paths relative to :data:`SHARED_BENCHMARKS`, preferred first.
    ``file_stems`` are file names (lower case, no suffix) that identify the benchmark when a
    file is loaded with :func:`load_file` without ``benchmark=``.
    """

    name: str
    title: str
    hub_id: str | None
    config: str | None = None
    split: str | None = None
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    local_files: tuple[str, ...] = ()
    file_stems: tuple[str, ...] = ()
    note: str = ""

    def local_paths(self) -> list[Path]:
        """The local copies that exist on this machine, preferred first."""
        return [SHARED_BENCHMARKS / rel for rel in self.local_files if (SHARED_BENCHMARKS / rel).is_file()]


BENCHMARKS: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in (
        BenchmarkSpec(
            "nl4opt",
            "NL4OPT (test split, with optimal values by ORLM)",
            "CardinalOperations/NL4OPT",
            split="test",
            question_field="en_question",
            answer_field="en_answer",
            local_files=("optmath/NL4OPT.json", "llmopt/nl4opt_test.jsonl"),
            file_stems=("nl4opt", "nl4opt_test", "nl4opt_with_optimal_solution", "testset_nl4opt"),
            note="245 problems on the hub / optmath copy (17 'No Best Solution'); LLMOPT's re-labelled copy has 230.",
        ),
        BenchmarkSpec(
            "mamo-easy",
            "Mamo EasyLP",
            "CardinalOperations/MAMO",
            split="easy_lp",  # one 'default' config; EasyLP and ComplexLP are its splits
            question_field="en_question",
            answer_field="en_answer",
            local_files=("optmath/MAMO_EasyLP.json", "llmopt/mamo_easy_test.jsonl", "mamo/mamo_easy_lp.jsonl"),
            file_stems=("mamo_easylp", "mamo_easy_test", "mamo_easy_lp", "testset_mamoeasy"),
            note="652 problems; LLMOPT's copy has re-checked ground truths.",
        ),
        BenchmarkSpec(
            "mamo-complex",
            "Mamo ComplexLP",
            "CardinalOperations/MAMO",
            split="complex_lp",
            question_field="en_question",
            answer_field="en_answer",
            local_files=("optmath/MAMO_ComplexLP.json", "llmopt/mamo_complex_test.jsonl", "mamo/mamo_complex_lp.jsonl"),
            file_stems=("mamo_complexlp", "mamo_complex_test", "mamo_complex_lp", "testset_mamocomplex"),
            note="211 problems.",
        ),
        BenchmarkSpec(
            "nlp4lp",
            "NLP4LP (OptiMUS)",
            "udell-lab/NLP4LP",
            local_files=("llmopt/nlp4lp.jsonl",),
            file_stems=("nlp4lp", "testset_nlp4lp"),
            note=(
                "The hub dataset is laid out per problem (description, parameters, solution) and its "
                "fields are not verified here; the 242-problem question/answer set evaluated by LLMOPT "
                "is the local file."
            ),
        ),
        BenchmarkSpec(
            "complexor",
            "ComplexOR (Chain-of-Experts)",
            None,
            local_files=("llmopt/complexor.jsonl",),
            file_stems=("complexor", "testset_complexor"),
            note="published in the Chain-of-Experts GitHub repository (dataset/ComplexOR)",
        ),
        BenchmarkSpec(
            "industryor",
            "IndustryOR",
            "CardinalOperations/IndustryOR",
            split="test",
            question_field="en_question",
            answer_field="en_answer",
            local_files=("llmopt/industryor.jsonl",),
            file_stems=("industryor", "testset_industryor"),
            note="100 problems; the hub copy has been revised by its authors since release.",
        ),
        BenchmarkSpec(
            "optibench",
            "OptiBench (ReSocratic)",
            None,
            local_files=("llmopt/optibench.jsonl",),
            file_stems=("optibench",),
            note="published as data/OptiBench.json in the ReSocratic GitHub repository",
        ),
        BenchmarkSpec(
            "optmath-bench",
            "OptMATH-Bench",
            None,
            id_field="id",
            local_files=("optmath/OptMATH_Bench.json", "llmopt/optmath_bench.jsonl"),
            file_stems=("optmath_bench", "optmath"),
            note="published in the OptMATH GitHub repository (benchmark/); only OptMATH-Train is on the hub",
        ),
        BenchmarkSpec(
            "icml-task3",
            "ICML 2024 AI4Math challenge, track 3 (test, labelled by LLMOPT)",
            None,
            local_files=("llmopt/task3_test.jsonl",),
            file_stems=("task3_test", "icml_task3"),
            note="Codabench competition data; the ground truths are LLMOPT's manual labels",
        ),
    )
}

# Field conventions tried in order when the caller names none.
FIELD_CONVENTIONS: tuple[tuple[str, str], ...] = (
    ("en_question", "en_answer"),
    ("question", "answer"),
    ("Question", "Answer"),
    ("problem", "answer"),
)
ID_FIELDS: tuple[str, ...] = ("id", "index", "ID", "Id", "idx")


# --- answers --------------------------------------------------------------------------------

_NO_SOLUTION_TEXTS = {
    "no best solution",
    "no solution",
    "no feasible solution",
    "no optimal solution",
    "no feasible solution exists",
    "no solution exists",
    "infeasible",
    "infeasible problem",
    "the problem is infeasible",
    "not feasible",
    "none",
    "unbounded",
    "the problem is unbounded",
    "infeasible or unbounded",
    "inf",
    "+inf",
    "-inf",
    "infinity",
    "+infinity",
    "-infinity",
    "infinite",
}
_CURRENCY = "$€£¥"
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?")


def normalize_answer(raw: Any) -> float | Literal["infeasible"]:
    """Ground truth → ``float`` or :data:`INFEASIBLE`; raises :class:`AnswerError` otherwise."""
    if raw is None:
        raise AnswerError("missing answer")
    if isinstance(raw, bool):
        raise AnswerError("boolean answer")
    if isinstance(raw, (int, float)):
        value = float(raw)
        if math.isnan(value):
            raise AnswerError("NaN answer")
        if math.isinf(value):
            return INFEASIBLE
        return value
    if not isinstance(raw, str):
        raise AnswerError(f"answer of type {type(raw).__name__}")
    text = raw.strip().strip("\"'`").strip()
    if not text:
        raise AnswerError("empty answer")
    simple = re.sub(r"\s+", " ", text.lower()).rstrip(".!")
    if simple in _NO_SOLUTION_TEXTS:
        return INFEASIBLE
    number = text.replace("\u2212", "-").replace("\u00a0", "").replace(" ", "")
    sign = ""
    if number[:1] in "+-":
        sign, number = number[0], number[1:]
    number = number.lstrip(_CURRENCY)
    if number[:1] in "+-" and not sign:
        sign, number = number[0], number[1:]
    number = sign + number
    if _PLAIN_NUMBER.fullmatch(number):
        return float(number)
    if _THOUSANDS.fullmatch(number):
        return float(number.replace(",", ""))
    if "," in number and re.fullmatch(r"[+-]?\d+,\d+", number):
        raise AnswerError(f"ambiguous decimal comma in {raw!r}")
    raise AnswerError(f"not a number: {raw!r}")


# --- local files ------------------------------------------------------------------------------


MAX_BENCHMARK_BYTES = int(os.environ.get("NLOPT_MAX_BENCHMARK_BYTES", 256 * 2**20))
"""Largest benchmark file read with ``--file`` (default 256 MiB; the largest shared file is
0.75 MB). Raise it with the environment variable NLOPT_MAX_BENCHMARK_BYTES."""

_WRAPPER_KEYS = ("data", "examples", "problems", "records", "test", "train")


def check_input_file(path: Path, max_bytes: int | None = None) -> os.stat_result:
    """The file's stat, or a :class:`DatasetError` saying what the path is instead of a file:
    missing, a symbolic link loop, a directory, a device or FIFO, unreadable, or too large."""
    from ..core.io import path_problem

    limit = MAX_BENCHMARK_BYTES if max_bytes is None else max_bytes
    problem = path_problem(path)  # one wording for what a path is, shared with every other input
    if problem:
        raise DatasetError(f"{path}: {problem}")
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise DatasetError(f"{path}: is not a regular file (a device or FIFO); give a JSON, JSON Lines or parquet file")
    if not os.access(path, os.R_OK):
        raise DatasetError(f"cannot read {path}: permission denied")
    if st.st_size > limit:
        raise DatasetError(f"{path} is {st.st_size:,} bytes, over the limit of {limit:,} bytes "
                           "for a benchmark file (raise it with NLOPT_MAX_BENCHMARK_BYTES)")
    if st.st_size == 0:
        raise DatasetError(f"{path} is empty")
    return st


def _use_offline_env(offline: bool) -> None:
    """Offline mode through the libraries' documented variables, which they read at import.

    Once ``datasets`` is imported its mode is fixed; a variable the user set is never changed.
    """
    if offline and "datasets" not in sys.modules:
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ.setdefault(var, "1")


def _import_datasets(offline: bool):
    _use_offline_env(offline)
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # stderr belongs to our progress bar
    return importlib.import_module("datasets")


def _rows_of(data) -> list[dict]:
    if not hasattr(data, "column_names") or isinstance(data, dict):  # a DatasetDict: its only split
        splits = list(data.keys())
        if len(splits) != 1:
            raise DatasetError(f"the dataset has splits {splits}; name one in the registry")
        data = data[splits[0]]
    return data.to_list()


def _cause(exc: BaseException) -> str:
    """The innermost message of a chained exception (datasets wraps the parser's error)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _read_records(path: Path) -> list[tuple[int, Any]]:
    """``[(position, record)]`` of a JSON list, JSON Lines or parquet file, read by
    ``datasets.load_dataset("json" | "parquet", data_files=...)``, the loader of the hub datasets.

    A JSON object wrapping the list (``{"data": [...]}``) is unwrapped. A file that does not
    parse is refused whole: a benchmark with a damaged line is not the benchmark.
    """
    builder = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "json"
    hf = _import_datasets(offline=False)  # a local file needs no network; the hub's mode stays as it is
    try:
        rows = _rows_of(hf.load_dataset(builder, data_files=str(path), split="train"))
        if builder == "json" and len(rows) == 1 and len(rows[0]) == 1:
            (key, value), = rows[0].items()
            if key in _WRAPPER_KEYS and isinstance(value, list):
                rows = _rows_of(hf.load_dataset(builder, data_files=str(path), field=key, split="train"))
    except DatasetError:
        raise
    except Exception as exc:
        where = _first_bad_json_line(path) if builder == "json" else None
        if where:
            raise DatasetError(f"{path} is not valid JSON / JSON Lines ({where})") from exc
        raise DatasetError(f"cannot load {path} as {builder} ({_cause(exc)})") from exc
    if not rows:
        raise DatasetError(f"{path} holds no records")
    return [(i + 1, row) for i, row in enumerate(rows)]


def _first_bad_json_line(path: Path) -> str | None:
    """Where a JSON Lines file stops parsing, for the error message (the parser only says
    "row 1" of some block). The file is within the size limit."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return str(exc)
    try:
        json.loads(text)
        return None  # one JSON document: the loader's own message says what is wrong
    except (ValueError, RecursionError):
        pass
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                json.loads(line)
            except (ValueError, RecursionError) as exc:
                return f"line {lineno}: invalid JSON: {str(exc)[:200]}"
    return None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_sha256(rows: Iterable[tuple[int, Any]]) -> str:
    """The version of a benchmark: a hash of the set of its records, the same for a file and its
    hub copy, in any format and order (a reordered copy holds the same problems)."""
    digests = sorted(
        hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
                       .encode("utf-8", "surrogatepass")).hexdigest()
        for _, row in rows
    )
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()


def problem_id(benchmark: str, question: str, occurrence: int = 1) -> str:
    """The stable id of a problem: its benchmark and a hash of its text (whitespace and Unicode
    form normalised), so it survives reordering, slicing and file format; the k-th repeat of
    the same text in one benchmark gets ``-k``."""
    text = unicodedata.normalize("NFC", " ".join(question.split()))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{benchmark}-{digest}" + (f"-{occurrence}" if occurrence > 1 else "")


def _pick_fields(records: Sequence[dict], question_field: str | None, answer_field: str | None) -> tuple[str, str | None]:
    keys: set[str] = set()
    for record in records[:50]:
        keys.update(record)
    if question_field is not None:
        if question_field not in keys:
            raise DatasetError(f"no field {question_field!r} in the records (fields: {sorted(keys)})")
        if answer_field is None:
            for q, a in FIELD_CONVENTIONS:
                if q == question_field and a in keys:
                    answer_field = a
                    break
            else:
                answer_field = next((a for _, a in FIELD_CONVENTIONS if a in keys), None)
        return question_field, answer_field
    for q, a in FIELD_CONVENTIONS:
        if q in keys:
            return q, answer_field or (a if a in keys else next((b for _, b in FIELD_CONVENTIONS if b in keys), None))
    raise DatasetError(
        f"cannot tell which field holds the problem text (fields: {sorted(keys)}); "
        "name it with --question-field / --answer-field"
    )


def benchmark_for_path(path: str | os.PathLike) -> str | None:
    """The registered benchmark a file name identifies (``NL4OPT.json`` → ``nl4opt``), if any."""
    stem = Path(path).name.lower()
    for suffix in (".gz", ".parquet", ".jsonl", ".json", ".pq"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    for spec in BENCHMARKS.values():
        if stem in spec.file_stems:
            return spec.name
    return None


def _samples_from_records(
    rows: Iterable[tuple[int, Any]],
    *,
    benchmark: str,
    question_field: str,
    answer_field: str | None,
    id_field: str | None,
    require_answer: bool,
    limit: int | None,
    ids: Iterable[str] | None,
    excluded: list[Excluded],
) -> list[Sample]:
    wanted = {str(i) for i in ids} if ids is not None else None
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    texts: dict[str, int] = {}  # occurrences of each problem id, for repeated texts
    for position, record in rows:
        if limit is not None and len(samples) >= limit:
            break
        if not isinstance(record, dict):
            excluded.append(Excluded(str(position), None, f"record is a {type(record).__name__}, not an object"))
            continue
        ident_field = id_field or next((f for f in ID_FIELDS if record.get(f) is not None), None)
        ident = str(record[ident_field]) if ident_field and record.get(ident_field) is not None else str(position)
        if ident in seen:
            seen[ident] += 1
            ident = f"{ident}#{seen[ident]}"
        else:
            seen[ident] = 1
        question = record.get(question_field)
        raw = record.get(answer_field) if answer_field else None
        pid = ""
        if isinstance(question, str) and question.strip():
            pid = problem_id(benchmark, question)
            texts[pid] = texts.get(pid, 0) + 1
            pid = problem_id(benchmark, question, texts[pid])
        if wanted is not None and ident not in wanted and pid not in wanted:
            continue  # --ids names the dataset's ids or our stable problem ids
        if not pid:
            excluded.append(Excluded(ident, raw, "missing problem text"))
            continue
        if answer_field is None or (answer_field not in record and not require_answer):
            answer: Answer = None
            if require_answer:
                excluded.append(Excluded(ident, None, "no answer field"))
                continue
        else:
            try:
                answer = normalize_answer(raw)
            except AnswerError as exc:
                if raw is None and not require_answer:
                    answer = None
                else:
                    excluded.append(Excluded(ident, raw, str(exc)))
                    continue
        meta = {k: v for k, v in record.items() if k not in (question_field, answer_field)}
        samples.append(Sample(ident, question, answer, raw, benchmark, meta, pid))
    return samples


def load_file(
    path: str | os.PathLike,
    question_field: str | None = None,
    answer_field: str | None = None,
    benchmark: str | None = None,
    *,
    limit: int | None = None,
    ids: Iterable[str] | None = None,
    id_field: str | None = None,
    require_answer: bool = True,
) -> LoadedBenchmark:
    """Load a local benchmark file (JSON list, JSON Lines even when named ``.json``, or parquet).

    Field names are detected from :data:`FIELD_CONVENTIONS` unless given. Ids come from the
    ``id``/``index`` field, else the line number (record position for JSON lists / parquet).
    ``benchmark`` defaults to the registered benchmark the file name identifies, else the file
    stem. Records whose ground truth is unusable are reported in ``excluded`` (so are lines
    that are not valid JSON); with ``require_answer=False`` a missing answer gives
    ``answer=None`` instead.
    """
    p = Path(path)
    check_input_file(p)
    rows = _read_records(p)
    dict_rows = [r for _, r in rows if isinstance(r, dict)]
    if not dict_rows:
        raise DatasetError(f"{p} holds no JSON objects")
    q_field, a_field = _pick_fields(dict_rows, question_field, answer_field)
    if a_field is None and require_answer:
        raise DatasetError(
            f"{p}: no answer field found (tried {', '.join(a for _, a in FIELD_CONVENTIONS)}); "
            "name it with --answer-field"
        )
    name = benchmark or benchmark_for_path(p) or p.stem
    excluded: list[Excluded] = []
    samples = _samples_from_records(
        rows,
        benchmark=name,
        question_field=q_field,
        answer_field=a_field,
        id_field=id_field,
        require_answer=require_answer,
        limit=limit,
        ids=ids,
        excluded=excluded,
    )
    return LoadedBenchmark(name, samples, excluded, source=str(p), dataset_sha256=content_sha256(rows),
                           file_sha256=_sha256_file(p), records=len(rows))


# --- the hub ----------------------------------------------------------------------------------


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _offline_requested() -> bool:
    return any(_env_true(v) for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _probe_target() -> tuple[str, int]:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        proxy = os.environ.get(var)
        if proxy:
            no_proxy = os.environ.get("NO_PROXY", os.environ.get("no_proxy", ""))
            host = urlparse(endpoint).hostname or ""
            if not any(h.strip() and host.endswith(h.strip().lstrip(".")) for h in no_proxy.split(",")):
                parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
                return parsed.hostname or "", parsed.port or 8080
    parsed = urlparse(endpoint)
    return parsed.hostname or "huggingface.co", parsed.port or (443 if parsed.scheme != "http" else 80)


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to the hub (or the HTTPS proxy) opens within ``timeout`` seconds.

    Name resolution runs in a daemon thread so that a hanging resolver cannot block us either.
    """
    host, port = _probe_target()
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True, name="hub-probe")
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _local_hint(spec: BenchmarkSpec | None) -> str:
    if spec is None:
        return "pass a local file with --file PATH"
    paths = spec.local_paths()
    if paths:
        listed = " or ".join(str(p) for p in paths)
        return f"pass a local copy with --file, e.g. --file {listed}"
    if spec.local_files:
        rel = " or ".join(str(SHARED_BENCHMARKS / r) for r in spec.local_files)
        return (f"pass a local copy with --file (the shared copy would be {rel}, not present here; "
                "point nlopt --data-dir or NLOPT_DATA_DIR at the shared data directory)")
    return "pass a local copy with --file PATH"


def load_benchmark(
    name: str,
    limit: int | None = None,
    ids: Iterable[str] | None = None,
    *,
    probe_timeout: float = HUB_PROBE_TIMEOUT,
) -> LoadedBenchmark:
    """Load a registered benchmark from the Hugging Face hub (or the local hub cache).

    When the hub cannot be reached within ``probe_timeout`` seconds — or HF_HUB_OFFLINE /
    HF_DATASETS_OFFLINE is set — the load runs in offline mode, which succeeds only from the
    local cache; every failure becomes a :class:`DatasetError` naming ``--file`` and the
    matching file under ``../shared/benchmarks``.
    """
    spec = BENCHMARKS.get(name)
    if spec is None:
        raise DatasetError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}; or load a file with --file PATH")
    if spec.hub_id is None:
        raise DatasetError(f"{name}: no Hugging Face dataset is known for it ({spec.note}); {_local_hint(spec)}")
    offline = _offline_requested() or not hub_reachable(probe_timeout)
    try:
        hf_datasets = _import_datasets(offline)
    except ImportError as exc:
        raise DatasetError(f"{name}: the 'datasets' package is not installed; {_local_hint(spec)}") from exc
    where = spec.hub_id + (f" (config {spec.config})" if spec.config else "") + (f" split {spec.split}" if spec.split else "")
    try:
        data = hf_datasets.load_dataset(spec.hub_id, spec.config, split=spec.split)
        rows = [(i + 1, row) for i, row in enumerate(_rows_of(data))]
    except DatasetError:
        raise
    except Exception as exc:  # network, missing cache, schema: all end here
        reason = "the hub is unreachable and the dataset is not in the local cache" if offline else "loading failed"
        raise DatasetError(f"{name}: cannot load {where}: {reason} ({type(exc).__name__}: {exc}); {_local_hint(spec)}") from exc
    dict_rows = [r for _, r in rows if isinstance(r, dict)]
    if not dict_rows:
        raise DatasetError(f"{name}: {spec.hub_id} returned no records; {_local_hint(spec)}")
    try:
        q_field, a_field = _pick_fields(dict_rows, spec.question_field, spec.answer_field)
    except DatasetError as exc:
        raise DatasetError(f"{name}: {spec.hub_id}: {exc}; {_local_hint(spec)}") from exc
    if a_field is None:
        raise DatasetError(f"{name}: {spec.hub_id} has no recognised answer field; {_local_hint(spec)}")
    excluded: list[Excluded] = []
    samples = _samples_from_records(
        rows,
        benchmark=name,
        question_field=q_field,
        answer_field=a_field,
        id_field=spec.id_field,
        require_answer=True,
        limit=limit,
        ids=ids,
        excluded=excluded,
    )
    return LoadedBenchmark(name, samples, excluded, source=f"hf://{where}", dataset_sha256=content_sha256(rows),
                           records=len(rows))


def load_local_benchmark(name: str, limit: int | None = None, ids: Iterable[str] | None = None) -> LoadedBenchmark:
    """Load a registered benchmark from its preferred copy under ``../shared/benchmarks``."""
    spec = BENCHMARKS.get(name)
    if spec is None:
        raise DatasetError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    paths = spec.local_paths()
    if not paths:
        raise DatasetError(f"{name}: no local copy under {SHARED_BENCHMARKS}; pass a file with --file PATH")
    return load_file(paths[0], benchmark=name, id_field=spec.id_field, limit=limit, ids=ids)
