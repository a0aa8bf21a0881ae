"""What reaches the terminal and what the CLI reads: control characters in every text field,
the input size cap and streamed JSON lines, lone surrogates and huge integers, what a path
is, and LaTeX / Markdown exports of awkward text (issue 7, points 5, 7, 14, 19, 20).

Exit codes and "never a traceback" are checked on real processes (`run_cli`); the property
over arbitrary strings runs in-process (typer's CliRunner) to keep it fast.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripted_server import ScriptedServer, unused_base_url

from nlopt_milp.core import io as cio
from nlopt_milp.core.text import safe_json, safe_text

ROOT = Path(__file__).resolve().parents[1]
LLM_ENV = ("NLOPT_BASE_URL", "NLOPT_MODEL", "NLOPT_API_KEY", "NLOPT_DEBUG", cio.ENV_VAR)


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LLM_ENV}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run_cli(*args, input: bytes | str | None = None, env: dict | None = None, cwd=None) -> SimpleNamespace:
    """A real `nlopt` process; stdout/stderr decoded strictly (a lone surrogate cannot be printed)."""
    data = input.encode("utf-8") if isinstance(input, str) else input
    p = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *map(str, args)], input=data,
                       capture_output=True, env=env or _env(), cwd=cwd or ROOT, timeout=300)
    r = SimpleNamespace(returncode=p.returncode, stdout=p.stdout.decode("utf-8"), stderr=p.stderr.decode("utf-8"))
    assert "Traceback" not in r.stderr, r.stderr
    return r


def invoke(*args, input: str | None = None) -> SimpleNamespace:
    from typer.testing import CliRunner

    from nlopt_milp.cli.app import app

    env = {"COLUMNS": "200", **{k: None for k in LLM_ENV}}
    r = CliRunner().invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def flat(s: str) -> str:
    return " ".join(s.split())


def printed_objective(stdout: str) -> str:
    """The objective as the Result panel shows it (data may spell "Objective 999999" elsewhere)."""
    m = re.search(r"Result \S*\n\S+ Status .*\n\S+ Objective\s+(\S+)", stdout)
    assert m, stdout
    return m.group(1)


# --- what must never reach a terminal --------------------------------------------------


def forbidden(text: str) -> list[str]:
    """Characters of `text` that steer a terminal or hide text (the issue's list, stated here
    independently of core.text): C0 but tab/newline, DEL, C1, bidi overrides and isolates,
    other format characters (but the joiners), line/paragraph separators, surrogates."""
    bad = []
    for ch in text:
        o = ord(ch)
        if ch in "\t\n" or ch in "\u200c\u200d":
            continue
        if o < 0x20 or 0x7F <= o <= 0x9F or 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069 \
                or unicodedata.category(ch) in ("Cf", "Cs", "Zl", "Zp"):
            bad.append(ch)
    return bad


def assert_clean(*outputs: str) -> None:
    for out in outputs:
        bad = forbidden(out)
        assert not bad, (sorted({hex(ord(c)) for c in bad}), out[:2000])


HOSTILE = [
    "\x1b[2J", "\x1b[3A\rObjective 999999", "\x1b]0;pwned\x07", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
    "\x9b2J", "\x9d0;t\x9c", "\u202e", "\u2066", "\u2069", "\u200f", "\u061c", "\x7f", "\x00", "\r", "\x08",
    "\x07", "\ud800", "\udfff", "[bold red]", "[/]", "[link=http://x]", "\u2028", "\ufeff", "\U000e0041",
    "\u200b", "\n", "\n\n", "|", "\\", "$&%#_{}~^", "`", "<b>",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=4)), min_size=1, max_size=5).map("".join)


def formulation(s: str, infeasible: bool = False) -> dict:
    """`s` in every text field (and in a set element); max x[a] + x[b...], x <= cap = (2, 1): 3."""
    f = {
        "version": "1", "name": s, "problem": s,
        "sets": [{"name": "T", "elements": ["a", "b" + s], "description": s}],
        "parameters": [{"name": "cap", "index": ["T"], "value": [2, 1], "description": s}],
        "variables": [{"name": "x", "index": ["T"], "domain": "integer", "upper": 3, "description": s}],
        "objective": {"sense": "maximize", "expr": "sum(x[t] for t in T)", "description": s},
        "constraints": [{"name": "caps", "template": "upper_bound", "forall": [{"index": "t", "set": "T"}],
                         "slots": {"var": "x[t]", "limit": "cap[t]"}, "source": s}],
    }
    if infeasible:
        f["constraints"].append({"name": "floor", "template": "lower_bound", "forall": [{"index": "t", "set": "T"}],
                                 "slots": {"var": "x[t]", "limit": "5"}, "source": s})
    return f


def write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")  # ensure_ascii: any string, even a lone surrogate
    return path


@settings(max_examples=int(os.environ.get("NLOPT_TEST_EXAMPLES", "30")), deadline=None,  # more: NLOPT_TEST_EXAMPLES
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=hostile_text)
def test_control_chars_never_reach_output_of_any_command(tmp_path, s):
    ok = write(tmp_path / "ok.json", formulation(s))
    bad = write(tmp_path / "infeasible.json", formulation(s, infeasible=True))
    nl4opt = tmp_path / "nl4opt.jsonl"  # a record that fails to convert: its id and error are printed
    nl4opt.write_text(json.dumps({s: {"document": s, "vars": [s], "const_formulation": [{"type": s}]}}) + "\n")
    runs = {
        "import_nl4opt": invoke("data", "import-nl4opt", nl4opt, "-o", tmp_path / "out.jsonl"),
        "check": invoke("check", ok),
        "solve": invoke("solve", "-f", ok),
        "solve_infeasible": invoke("solve", "-f", bad),
        "solve_json": invoke("solve", "-f", ok, "--json"),
        **{f"emit_{to}": invoke("emit", ok, "--to", to) for to in ("latex", "markdown", "pyomo", "lp")},
    }
    for name, r in runs.items():
        assert_clean(r.stdout, r.stderr)
    valid = runs["check"].returncode == 0
    assert runs["check"].returncode in (0, 2)
    if not valid:  # rejected by validation (e.g. a name that is not plain): reported, never printed raw
        assert "invalid formulation" in runs["check"].stderr
        return
    assert runs["solve"].returncode == 0 and printed_objective(runs["solve"].stdout) == "3"
    assert runs["solve_infeasible"].returncode == 3 and "Conflicting constraints" in runs["solve_infeasible"].stdout
    d = json.loads(runs["solve_json"].stdout)
    assert d["objective"] == 3 and d["name"] == s  # the JSON carries the text unchanged, escaped
    assert all(r.returncode == 0 for n, r in runs.items() if n.startswith("emit_")), runs


def test_control_chars_clear_screen_and_cursor_moves(tmp_path):
    """The issue's reproducers, on a real process: a description that clears the screen, a
    source sentence that moves the cursor up to overwrite the result panel."""
    f = formulation("plain")
    f["variables"][0]["description"] = "\u001b[2J"
    f["constraints"][0]["source"] = "\x1b[8A\r\x1b[2KObjective 999999\x1b[8B"
    path = write(tmp_path / "m.json", f)
    r = run_cli("solve", "-f", path)
    assert r.returncode == 0, r.stderr
    assert_clean(r.stdout, r.stderr)
    assert "\\x1b[2J" in r.stdout and printed_objective(r.stdout) == "3"
    f["constraints"].append({"name": "floor", "template": "lower_bound", "slots": {"var": "x['a']", "limit": "5"},
                             "source": f["constraints"][0]["source"]})
    r = run_cli("solve", "-f", write(tmp_path / "inf.json", f))
    assert r.returncode == 3
    assert_clean(r.stdout, r.stderr)
    assert "\\x1b[8A\\x0d\\x1b[2KObjective 999999" in r.stdout  # shown, visibly, inside the IIS table


def test_control_chars_in_validation_messages(tmp_path):
    """Issues echo user strings (an unknown set name, a bad template): escaped, markup not read."""
    f = formulation("plain")
    f["variables"][0]["index"] = ["\x1b[2J[bold]T\u202e"]
    f["constraints"][0]["template"] = "\x9b31m[red]x"
    r = run_cli("check", write(tmp_path / "bad.json", f))
    assert r.returncode == 2
    assert_clean(r.stdout, r.stderr)
    assert "unknown template '\\x9b31m[red]x'" in r.stderr  # visible, and the markup printed as text


def test_control_chars_markup_in_data_is_printed_as_text(tmp_path):
    f = formulation("[bold red]loud[/] [link=http://x]y[/link]")
    r = invoke("solve", "-f", write(tmp_path / "m.json", f))
    assert r.returncode == 0
    assert "[bold red]loud[/] [link=http://x]y[/link]" in r.stdout


def test_control_chars_json_output_escapes_c1_and_bidi(tmp_path):
    s = "\x9b2J\u202e\u2066\x7f"  # (a lone surrogate is refused at load: test_lone_surrogate_cli_*)
    r = run_cli("solve", "-f", write(tmp_path / "m.json", formulation(s)), "--json")
    assert r.returncode == 0
    assert_clean(r.stdout, r.stderr)
    assert json.loads(r.stdout)["name"] == s  # same data, only spelled with \u escapes


def test_control_chars_from_the_model(tmp_path):
    """In the LLM path the texts come from the model: `formulate`, `solve PROBLEM`, `backends`."""
    f = formulation("\x1b]0;owned\x07\x1b[2J\u202e")
    f.pop("problem")
    reply = json.dumps(f)
    problem = tmp_path / "p.txt"
    problem.write_text("Maximize x \x1b[2J subject to caps.", encoding="utf-8")
    with ScriptedServer(models=["evil\x1b[2J\u202e[bold]m"]) as server:
        server.script(reply, reply, '{"ok": true}')
        fo = invoke("formulate", problem, "--mode", "single", "--base-url", server.base_url, "--max-repairs", "0")
        so = invoke("solve", problem, "--mode", "single", "--base-url", server.base_url, "--max-repairs", "0")
        be = invoke("backends", "--base-url", server.base_url)
    for r in (fo, so, be):
        assert_clean(r.stdout, r.stderr)
    assert fo.returncode == 0, fo.stderr
    assert so.returncode == 0 and printed_objective(so.stdout) == "3"
    assert be.returncode == 0 and "evil\\x1b[2J\\u202e[bold]m" in be.stdout


def test_control_chars_import_nl4opt_summary(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"\x1b[2J\u202eid": {"document": "x", "vars": ["\x1b[2J"]}}) + "\n"
                   + "not json \x1b[2J\n", encoding="utf-8")
    r = run_cli("data", "import-nl4opt", src, "-o", tmp_path / "out.jsonl")
    assert_clean(r.stdout, r.stderr)
    assert "\\x1b[2J\\u202eid" in r.stderr


def test_control_chars_safe_text_unit():
    assert safe_text("a\x1b[2Jb\tc\nd") == "a\\x1b[2Jb\tc\nd"
    assert safe_text("\u202e\x9b\ud800\U000e0041") == "\\u202e\\x9b\\ud800\\U000e0041"
    assert safe_text("a\nb\tc", newlines=False) == "a\\nb\\tc"
    assert safe_text("Zoë 東京 \u200d") == "Zoë 東京 \u200d"  # text stays text
    assert safe_text(safe_text("\x1b")) == safe_text("\x1b")
    s = json.dumps({"k": "\x9b\u202e\U000e0041\ud800"}, ensure_ascii=False)
    assert not forbidden(safe_json(s)) and json.loads(safe_json(s)) == json.loads(s)


# --- input size ------------------------------------------------------------------------


def test_input_size_cap_dev_zero_and_binary():
    """/dev/zero never ends: every reader stops at the first NUL byte, exit 2."""
    for args in (["check", "/dev/zero"], ["solve", "-f", "/dev/zero"], ["emit", "/dev/zero", "--to", "lp"],
                 ["data", "import-nl4opt", "/dev/zero", "-o", "/dev/null"],
                 ["solve", "/dev/zero", "--base-url", unused_base_url()]):
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "/dev/zero: looks like a binary file (NUL byte at offset 0)" in flat(r.stderr), args


def _peak_rss_kb(*args, env=None) -> tuple[int, str]:
    """Run the CLI in a child that reports its own peak RSS (KiB) on the last stderr line."""
    code = ("import resource, runpy, sys\n"
            f"sys.argv = ['nlopt', *{list(map(str, args))!r}]\n"
            "try:\n    runpy.run_module('nlopt_milp.cli.app', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            # VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would count the parent test process
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
            "sys.stderr.write('\\nRSS %d\\n' % int(hwm))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env or _env(), cwd=ROOT, timeout=300)
    err = p.stderr.decode()
    return int(err.rsplit("RSS ", 1)[1]), err


def test_input_size_cap_sparse_file_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(1 << 30)  # 1 GiB, sparse
    rss, err = _peak_rss_kb("check", big)
    assert "larger than the input limit of 16 MiB" in flat(err), err
    assert rss < 300_000, rss  # KiB; reading it whole took 2.1 GB
    text = tmp_path / "huge.txt"  # not JSON, no NUL: a text that never ends within the cap
    text.write_bytes(b"x" * (cio.DEFAULT_MAX_INPUT_BYTES + 10))
    r = run_cli("check", text)
    assert r.returncode == 2 and "larger than the input limit" in flat(r.stderr)


def test_input_size_cap_can_be_raised_and_lowered(tmp_path):
    path = write(tmp_path / "m.json", formulation("plain"))
    size = path.stat().st_size
    low = run_cli("check", path, env=_env(NLOPT_MAX_INPUT_BYTES="100"))
    assert low.returncode == 2
    assert f"input ({size:,} bytes) is larger than the input limit of 100 bytes; raise it with " \
           "--max-input-bytes or NLOPT_MAX_INPUT_BYTES" in flat(low.stderr)
    assert run_cli("--max-input-bytes", "100", "check", path).returncode == 2
    assert run_cli("--max-input-bytes", "1M", "check", path, env=_env(NLOPT_MAX_INPUT_BYTES="100")).returncode == 0
    bad = run_cli("--max-input-bytes", "lots", "check", path)
    assert bad.returncode == 2 and "not a size" in flat(bad.stderr)
    problem = tmp_path / "p.txt"
    problem.write_text("Maximize the profit of 3 products.", encoding="utf-8")
    text = run_cli("--max-input-bytes", "10", "formulate", problem, "--base-url", unused_base_url())
    assert text.returncode == 2 and "input (34 bytes) is larger than the input limit of 10 bytes" in flat(text.stderr)
    stdin = run_cli("--max-input-bytes", "100", "check", "-", input=path.read_text())
    assert stdin.returncode == 2 and "<stdin>: input is larger than the input limit of 100 bytes" in flat(stdin.stderr)


def test_input_size_cap_jsonl_is_streamed_line_by_line(tmp_path):
    """A JSON-lines batch far larger than the cap is read one line at a time; only a line
    past the cap is refused (with its line number), the others are solved."""
    line = json.dumps(formulation("plain"))
    cap = len(line) + 10
    long_line = json.dumps({**formulation("plain"), "problem": "y" * (2 * cap)})
    lines = [line] * 30 + [long_line] + [line] * 30  # ~60 caps in total
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = run_cli("--max-input-bytes", str(cap), "solve", "-f", path, "--json")
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.returncode == 2 and len(out) == 61
    assert [d["source"] for d in out if d["status"] != "optimal"] == [f"{path}:31"]
    assert "line is larger than the input limit" in out[30]["issues"][0]["message"]
    assert all(d["objective"] == 3 for k, d in enumerate(out) if k != 30)
    # stdin: the same lines, not named .jsonl, detected and streamed past the cap
    s = run_cli("--max-input-bytes", str(cap), "check", "-", "--json", input="\n".join([line] * 20))
    assert s.returncode == 0 and len(s.stdout.splitlines()) == 20


def test_input_size_cap_reader_unit(tmp_path):
    lines = list(cio.iter_lines(io.BytesIO(b"ab\n" + b"x" * 50 + b"\ncd\n\nlast"), 10))
    assert lines == [(1, b"ab"), (2, None), (3, b"cd"), (4, b""), (5, b"last")]
    with pytest.raises(cio.InputFileError, match="NUL byte at offset 5"):
        list(cio.iter_lines(io.BytesIO(b"ab\ncd\x00"), 10))
    p = tmp_path / "f"
    p.write_bytes(b"12345")
    assert cio.read_capped(p, 5) == b"12345"
    with pytest.raises(cio.InputTooLarge, match="input \\(5 bytes\\) is larger than the input limit of 4 bytes"):
        cio.read_capped(p, 4)
    assert cio.parse_size("16M") == 16 << 20 and cio.parse_size("64kib") == 64 << 10
    with pytest.raises(ValueError):
        cio.parse_size("0")


# --- lone surrogates, huge integers, one bad line ----------------------------------------------

SURROGATE = "\ud800"


def test_lone_surrogate_cli_every_command(tmp_path):
    f = formulation("name " + SURROGATE)
    f["sets"][0]["elements"][1] = "b" + SURROGATE
    path = write(tmp_path / "s.json", f)
    runs = [run_cli("check", path), run_cli("solve", "-f", path), run_cli("solve", "-f", path, "--json"),
            *(run_cli("emit", path, "--to", to) for to in ("latex", "markdown", "pyomo", "lp"))]
    for r in runs:
        assert r.returncode in (0, 2), r.stderr  # 2 when validation rejects it; never a traceback (1)
        assert_clean(r.stdout, r.stderr)
    if runs[0].returncode == 0:
        assert printed_objective(runs[1].stdout) == "3" and "\\ud800" in runs[1].stdout


def test_lone_surrogate_cli_in_a_path_and_stdin(tmp_path):
    r = run_cli("check", "-", input=json.dumps(formulation(SURROGATE)))
    assert r.returncode in (0, 2)
    assert_clean(r.stdout, r.stderr)


def test_jsonl_bad_line_does_not_stop_batch(tmp_path):
    good = json.dumps(formulation("plain"))
    huge_int = good.replace('"upper": 3', '"upper": ' + "9" * 5000)
    deep = "[" * 100_000 + "]" * 100_000
    bad_utf8 = b'{"name": "\xff"}'
    surrogate = json.dumps(formulation(SURROGATE))
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join([good.encode(), huge_int.encode(), deep.encode(), b"{not json", bad_utf8,
                                 surrogate.encode(), good.encode()]) + b"\n")
    for cmd in (["solve", "-f", path, "--json"], ["check", path, "--json"]):
        r = run_cli(*cmd)
        assert r.returncode == 2
        out = [json.loads(x) for x in r.stdout.splitlines()]
        assert [d["source"] for d in out] == [f"{path}:{k}" for k in range(1, 8)]
        ok = [d.get("status") == "optimal" or d.get("valid") is True for d in out]
        assert ok[0] and ok[6] and not any(ok[1:5]), out
        assert re.search(r"(more than 4,300|about \d+) digits", out[1]["issues"][0]["message"])
        assert "not UTF-8" in out[4]["issues"][0]["message"]
        assert_clean(r.stdout, r.stderr)
    human = run_cli("solve", "-f", path)
    assert f"{path}:2: invalid formulation" in flat(human.stderr)
    assert len(re.findall(r"Objective\s+3\s", human.stdout)) >= 2  # lines 1 and 7 (6 too, unless refused)


# --- what a path is ------------------------------------------------------------------------


def _path_commands(p) -> list[list]:
    return [["check", p], ["solve", "-f", p], ["emit", p, "--to", "lp"],
            ["data", "import-nl4opt", p, "-o", os.devnull], ["solve", p, "--base-url", unused_base_url()],
            ["eval", "--file", p, "--base-url", unused_base_url()]]


@pytest.mark.parametrize("kind, message", [
    ("directory", "is a directory, not a file"),
    ("symlink_loop", "is a symlink loop"),
    ("dangling", "is a dangling symlink (its target 'nowhere.json' does not exist)"),
    ("socket", "is a socket, not a regular file"),
    ("missing", "no such file"),
    ("not_a_dir", "no such file (a part of the path is not a directory)"),
])
def test_path_kinds_are_named(tmp_path, kind, message):
    p = tmp_path / "input.json"
    if kind == "directory":
        p.mkdir()
    elif kind == "symlink_loop":
        (tmp_path / "other").symlink_to(p)
        p.symlink_to(tmp_path / "other")
    elif kind == "dangling":
        p.symlink_to("nowhere.json")
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(p))
    elif kind == "not_a_dir":
        (tmp_path / "file").write_text("{}")
        p = tmp_path / "file" / "input.json"
    for args in _path_commands(p):
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert f"{p}: {message}" in flat(r.stderr), (args, r.stderr)
        assert "no such file" not in flat(r.stderr) or kind in ("missing", "not_a_dir"), (args, r.stderr)
    if kind == "socket":
        sock.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_path_kinds_permission_denied(tmp_path):
    p = write(tmp_path / "secret.json", formulation("plain"))
    p.chmod(0)
    for args in _path_commands(p)[:5]:
        r = run_cli(*args)
        assert r.returncode == 2 and f"{p}: permission denied" in flat(r.stderr), (args, r.stderr)


def test_path_kinds_fifo_is_read(tmp_path):
    """A FIFO (process substitution, a pipe by name) is an input like stdin, capped the same way."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    data = json.dumps(formulation("plain")).encode()

    def feed():
        with open(fifo, "wb") as fh:
            fh.write(data)

    t = threading.Thread(target=feed)
    t.start()
    r = run_cli("solve", "-f", fifo)
    t.join(timeout=60)
    assert r.returncode == 0 and printed_objective(r.stdout) == "3", r.stderr


# --- LaTeX and Markdown of awkward text ------------------------------------------------------


def _latex_blocks(text: str) -> list[str]:
    return re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", text, flags=re.S)


def _balanced(line: str) -> bool:
    depth = 0
    for m in re.finditer(r"\\\\|\\[{}]|[{}]", line):
        tok = m.group(0)
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def test_latex_newline_in_element(tmp_path):
    """A quoted element with a blank line (and LaTeX specials) keeps every align* intact: no
    blank line inside an environment, braces balanced on every line, the text shown escaped."""
    f = formulation("plain")
    awkward = ["a\n\nb", "c|d\r\n", "$&%#_{}~^\\", "\\end{align*}", "x\x1b[2J", "  "]
    f["sets"][0]["elements"] = awkward
    f["parameters"][0]["value"] = [1] * len(awkward)
    f["sets"][0]["description"] = "two\n\nparagraphs % not a comment"
    f["constraints"].append({"name": "pin", "template": "general", "source": "s\n\nt",
                             "slots": {"expr": "x['a\\n\\nb'] + x['$&%#_{}~^\\\\'] <= 1"}})
    path = write(tmp_path / "m.json", f)
    r = run_cli("emit", path, "--to", "latex")
    if r.returncode == 2:  # the element identity rules may refuse some of these: then it says so
        assert "invalid formulation" in r.stderr
        return
    assert r.returncode == 0, r.stderr
    assert_clean(r.stdout)
    blocks = _latex_blocks(r.stdout)
    assert len(blocks) == r.stdout.count("\\begin{align*}") == r.stdout.count("\\end{align*}") == 5
    for block in blocks:
        assert "\n\n" not in block and not re.search(r"\n\s*\n", block), block
        for ln in block.splitlines():
            if not ln.startswith("%"):
                assert _balanced(ln), ln
                assert not re.search(r"(?<!\\)[%#$]", ln), ln  # an unescaped % would comment out the rest
    assert r"\text{a\textbackslash{}n\textbackslash{}nb}" in r.stdout
    assert r"\text{\textbackslash{}end\{align*\}}" in r.stdout
    assert r"\text{x\textbackslash{}x1b[2J}" in r.stdout


def test_markdown_tables_survive_pipes_and_newlines(tmp_path):
    f = formulation("a | b\n\nc")
    f["sets"][0]["elements"] = ["p|q", "r\n\ns"]
    path = write(tmp_path / "m.json", f)
    r = run_cli("emit", path, "--to", "markdown")
    assert r.returncode == 0, r.stderr
    assert_clean(r.stdout)
    table = []
    for ln in r.stdout.splitlines() + [""]:
        if ln.startswith("|"):
            table.append(ln)
            continue
        if table:  # every row of a table has as many unescaped pipes as its header
            cells = [len(re.findall(r"(?<!\\)\|", row)) for row in table]
            assert len(set(cells)) == 1, table
            table = []
    assert "p\\|q" in r.stdout and "'r\\\\n\\\\ns'" in r.stdout


def test_lone_surrogate_cli_from_the_model(tmp_path):
    """A model reply with a lone surrogate: printed, saved (--save-formulation, -o) and
    exported (--emit-pyomo) without a traceback; the saved JSON reads back to the same text."""
    f = formulation(SURROGATE + " name")
    f.pop("problem")
    reply = json.dumps(f)
    problem = tmp_path / "p.txt"
    problem.write_text("Maximize the total.", encoding="utf-8")
    saved, script = tmp_path / "f.json", tmp_path / "m.py"
    with ScriptedServer() as server:
        server.script(reply, reply, reply)
        common = ["--mode", "single", "--base-url", server.base_url, "--max-repairs", "0"]
        fo = run_cli("formulate", problem, "-o", tmp_path / "fo.json", *common)
        so = run_cli("solve", problem, "--save-formulation", saved, "--emit-pyomo", script, *common)
        js = run_cli("solve", problem, "--json", *common)
    for r in (fo, so, js):
        assert r.returncode in (0, 7), r.stderr  # 7 when validation refuses the reply; never 1
        assert_clean(r.stdout, r.stderr)
    if so.returncode == 0:
        assert printed_objective(so.stdout) == "3"
        assert json.loads(saved.read_text(encoding="utf-8"))["name"] == SURROGATE + " name"
        assert not forbidden(script.read_text(encoding="utf-8"))
        assert json.loads(js.stdout)["objective"] == 3


@settings(max_examples=int(os.environ.get("NLOPT_TEST_EXAMPLES", "30")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(st.one_of(
    st.binary(max_size=40).map(lambda b: b"{" + b.replace(b"\n", b"").replace(b"\x00", b"")),
    st.sampled_from([b'{"version": "1", "name": ' + b"9" * 4400 + b"}", b"[" * 5000, b'{"name": "\xff\xfe"}',
                     b'"\\ud800"', b'{"name": "\\udfff", "variables": 5}', b"x" * 3000]),
), min_size=1, max_size=4))
def test_jsonl_bad_line_does_not_stop_batch_property(tmp_path, bad):
    """Any unusable line among good ones: reported on its own line number, every good line checked."""
    good = json.dumps(formulation("plain")).encode()
    lines = [good]
    for b in bad:
        lines += [b, good]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with cio_limit(2048):
        r = invoke("check", path, "--json")
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [d["source"] for d in out] == [f"{path}:{k}" for k in range(1, len(lines) + 1)], r.stderr
    assert all(out[k]["valid"] for k in range(0, len(lines), 2))
    assert not any(out[k]["valid"] for k in range(1, len(lines), 2))
    assert r.returncode == 2
    assert_clean(r.stdout, r.stderr)


class cio_limit:
    """Set the input cap of this process for a block (what `nlopt --max-input-bytes` does)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        cio.set_limit(self.n)

    def __exit__(self, *exc):
        cio.set_limit(None)
