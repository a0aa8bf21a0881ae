"""The in-process vLLM backend with a stand-in `vllm` module handed to its constructor
(the real engine needs a GPU): engine settings, batch failures, `nlopt backends --backend vllm`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from nlopt_milp.formulate.backends.vllm_local import ENGINE_ARGS, EngineArgError, engine_args, version_tuple
from nlopt_milp.formulate.llm import BackendError, BatchingBackend, ChatRequest, VLLMBackend

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}


def fake_vllm(bad_word: str = "BAD", version: str = "0.11.0"):
    """A module with the parts of vllm we use; LLM.chat raises for a whole batch when any
    conversation holds `bad_word` (as vLLM does for a prompt longer than max_model_len)."""

    @dataclass
    class StructuredOutputsParams:
        json: dict
        disable_any_whitespace: bool = False  # vLLM >= 0.10.2 has it (no free whitespace in the grammar)

    @dataclass
    class SamplingParams:
        n: int
        temperature: float
        max_tokens: int | None
        seed: int | None
        structured_outputs: StructuredOutputsParams | None = None

    class LLM:
        instances: list = []

        def __init__(self, model, **kwargs):
            self.model, self.kwargs, self.calls = model, kwargs, []
            LLM.instances.append(self)

        def chat(self, conversations, sampling_params, use_tqdm):
            self.calls.append(len(conversations))
            if any(bad_word in m["content"] for conv in conversations for m in conv):
                raise ValueError("The decoder prompt (length 99999) is longer than the maximum model length")
            return [types.SimpleNamespace(
                prompt_token_ids=[1, 2],
                outputs=[types.SimpleNamespace(text=json.dumps({"x": len(conv[-1]["content"])}), token_ids=[5] * 3,
                                               finish_reason="stop")])
                for conv in conversations]

    mod = types.SimpleNamespace(__version__=version, LLM=LLM, SamplingParams=SamplingParams,
                                sampling_params=types.SimpleNamespace(StructuredOutputsParams=StructuredOutputsParams))
    return mod


def req(text: str) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], schema=SCHEMA)


def test_engine_settings_reach_vllm_llm():
    mod = fake_vllm()
    settings = engine_args(["max_model_len=8192", "enable_prefix_caching=true", "dtype=bfloat16"])
    backend = VLLMBackend("org/model", vllm=mod, **settings)
    assert backend._llm.kwargs == {"max_model_len": 8192, "enable_prefix_caching": True, "dtype": "bfloat16"}
    (c,) = backend.complete_batch([req("hello")])
    assert json.loads(c.texts[0]) == {"x": 5}


def test_engine_settings_from_a_file_and_the_command_line(tmp_path):
    cfg = tmp_path / "engine.json"
    cfg.write_text(json.dumps({"gpu_memory_utilization": 0.85, "tensor_parallel_size": 2, "quantization": "awq",
                               "max_model_len": 4096}))
    assert engine_args(["max_model_len=2048"], str(cfg)) == {
        "gpu_memory_utilization": 0.85, "tensor_parallel_size": 2, "quantization": "awq", "max_model_len": 2048}


@pytest.mark.parametrize("pairs, file_obj, message", [
    (["max_len=5"], None, "unknown engine setting 'max_len'; known: max_model_len"),
    (["max_model_len=1.5"], None, "max_model_len: '1.5' is not a whole number of tokens >= 1"),
    (["max_model_len=0"], None, "max_model_len: '0' is not a whole number"),
    (["gpu_memory_utilization=1.5"], None, "gpu_memory_utilization: '1.5' is not a fraction in (0, 1]"),
    (["gpu_memory_utilization=nan"], None, "gpu_memory_utilization: 'nan' is not a fraction"),
    (["dtype=int4"], None, "dtype: 'int4' is not auto, half"),
    (["enable_prefix_caching=maybe"], None, "enable_prefix_caching: 'maybe' is not true or false"),
    (["max_model_len"], None, "write KEY=VALUE"),
    ([], {"tensor_parallel_size": "2"}, "tensor_parallel_size: '2' is not a number of GPUs"),
    ([], {"enable_prefix_caching": 1}, "enable_prefix_caching: 1 is not true or false"),
    ([], {"max_model_len": True}, "max_model_len: True is not a whole number"),
    ([], [1, 2], "expected a JSON object of engine settings"),
])
def test_bad_engine_settings_are_named(tmp_path, pairs, file_obj, message):
    cfg = None
    if file_obj is not None:
        cfg = tmp_path / "engine.json"
        cfg.write_text(json.dumps(file_obj))
    with pytest.raises(EngineArgError) as e:
        engine_args(pairs, str(cfg) if cfg else None)
    assert message in str(e.value)


def test_every_known_engine_setting_has_a_type_and_a_check():
    assert set(ENGINE_ARGS) == {"max_model_len", "gpu_memory_utilization", "tensor_parallel_size", "dtype",
                                "quantization", "enable_prefix_caching"}


def test_one_bad_request_fails_alone_not_its_batch():
    mod = fake_vllm()
    batching = BatchingBackend(VLLMBackend("org/model", vllm=mod), window=0.2)

    async def ask_all():
        return await asyncio.gather(*(batching.acomplete(req(t)) for t in ("one", "BAD two", "three!")),
                                    return_exceptions=True)

    one, two, three = asyncio.run(ask_all())
    assert json.loads(one.texts[0]) == {"x": 3} and json.loads(three.texts[0]) == {"x": 6}
    assert isinstance(two, BackendError)
    assert "longer than the maximum model length" in str(two)
    engine = mod.LLM.instances[-1]
    assert engine.calls == [3, 1, 1, 1]  # the batch, then each request on its own
    assert batching.retried == [3]


def test_a_good_batch_is_one_engine_call():
    mod = fake_vllm()
    batching = BatchingBackend(VLLMBackend("org/model", vllm=mod), window=0.2)

    async def ask_all():
        return await asyncio.gather(*(batching.acomplete(req(t)) for t in ("a", "bb", "ccc", "dddd")))

    out = asyncio.run(ask_all())
    assert [json.loads(c.texts[0])["x"] for c in out] == [1, 2, 3, 4]
    assert mod.LLM.instances[-1].calls == [4] and batching.retried == []


def test_version_parsing():
    assert version_tuple("0.11.0") == (0, 11, 0)
    assert version_tuple("0.6.3.post1") == (0, 6, 3)
    assert version_tuple("0.12.0rc1") == (0, 12, 0)
    assert version_tuple("0.11.1+cu128") >= (0, 11)
    assert version_tuple("0.10.2") < (0, 11)


def _cli(*args, env_extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def _vllm_stub(tmp_path, version):
    stub = tmp_path / "stub"
    (stub / "vllm").mkdir(parents=True)
    (stub / "vllm" / "__init__.py").write_text(f"__version__ = {version!r}\n")
    return {"PYTHONPATH": f"{ROOT}{os.pathsep}{stub}"}


def test_backends_vllm_reports_a_table_or_json_and_the_extra_to_install():
    if subprocess.run([sys.executable, "-c", "import vllm"], capture_output=True).returncode == 0:
        pytest.skip("vllm is installed here")
    proc = _cli("backends", "--backend", "vllm", "--json")
    assert proc.returncode == 6
    info = json.loads(proc.stdout)
    assert info["installed"] is False and info["needs"] == "0.11"
    assert 'pip install -e ".[vllm]"' in info["message"] and "pip install 'nlopt-milp[vllm]'" not in info["message"]
    proc = _cli("backends", "--backend", "vllm")
    assert proc.returncode == 6
    assert "{" not in proc.stdout and "installed" in proc.stdout and '.[vllm]"' in proc.stdout


@pytest.mark.parametrize("version, code, supported", [("0.11.2", 0, True), ("0.6.3", 6, False)])
def test_backends_vllm_checks_the_version(tmp_path, version, code, supported):
    proc = _cli("backends", "--backend", "vllm", "--json", env_extra=_vllm_stub(tmp_path, version))
    info = json.loads(proc.stdout)
    assert proc.returncode == code and info["supported"] is supported and info["version"] == version


def test_engine_settings_need_the_vllm_backend():
    def flat(text):  # rich draws the usage error in a box
        return " ".join(text.replace("│", " ").split())

    proc = _cli("solve", "examples/production_mix.txt", "--engine-arg", "max_model_len=4096",
                env_extra={"COLUMNS": "250"})
    assert proc.returncode == 2 and "engine settings are for --backend vllm" in flat(proc.stderr)
    proc = _cli("solve", "examples/production_mix.txt", "--backend", "vllm", "--model", "m",
                "--engine-arg", "gpu_memory_utilization=2", env_extra={"COLUMNS": "250"})
    assert proc.returncode == 2 and "gpu_memory_utilization: '2' is not a fraction in (0, 1]" in flat(proc.stderr)
