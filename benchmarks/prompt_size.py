"""Size of each stage's prompt, in characters and (with a GGUF model file) tokens.

    python benchmarks/prompt_size.py [PROBLEM.txt FORMULATION.json] [--gguf MODEL.gguf]

Defaults: examples/production_mix.txt/.json, and the Gemma 3 270M file the real-model tests
assemble (~/.cache/nlopt-test/gemma-3-270m-q4_k_m.gguf) when it exists. Only the tokenizer is
loaded (vocab_only).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlopt_milp.formulate import prompts as P  # noqa: E402

DEFAULT_GGUF = Path.home() / ".cache" / "nlopt-test" / "gemma-3-270m-q4_k_m.gguf"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problem", nargs="?", default=str(ROOT / "examples" / "production_mix.txt"))
    ap.add_argument("formulation", nargs="?", default=str(ROOT / "examples" / "production_mix.json"))
    ap.add_argument("--gguf", default=str(DEFAULT_GGUF) if DEFAULT_GGUF.is_file() else None)
    args = ap.parse_args(argv)
    text = Path(args.problem).read_text(encoding="utf-8")
    a = P.stage_answers({"problem": text, "formulation": json.loads(Path(args.formulation).read_text())})
    ent = P.Entities.model_validate(a["entities"]).model_dump_json(exclude={"notes"})
    cls = P.Classification.model_validate(a["classify"]).model_dump_json(exclude={"notes", "sentences"})
    users = {
        "entities": P.text("stage1_entities").format(examples=P.examples_block(text, "entities"), problem=text),
        "classify": P.text("stage2_classify").format(examples=P.examples_block(text, "classify"), problem=text,
                                                     entities=ent),
        "fill": P.text("stage3_fill").format(examples=P.examples_block(text, "fill"), problem=text, entities=ent,
                                             classification=cls),
        "single": P.text("single").format(examples=P.examples_block(text, "formulation"), problem=text),
    }
    count = len
    unit = "characters"
    if args.gguf:
        import llama_cpp
        llm = llama_cpp.Llama(model_path=args.gguf, vocab_only=True, verbose=False)
        count, unit = (lambda s: len(llm.tokenize(s.encode(), add_bos=False))), "tokens"
    print(f"{unit}: system prompt {count(P.system_prompt())} (catalog {count(P.catalog())})")
    for stage, user in users.items():
        answer = a["formulation" if stage == "single" else stage]
        print(f"  {stage}: user prompt {count(user)}, answer {count(P._dump(answer))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
