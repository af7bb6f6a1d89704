"""Task adaptation of the summarizer: a LoRA adapter for the quantized SmolLM2, trained on generator pairs.

Pairs come from a generated dataset's train split only: the input is the ASR of a short video or a live
window (plus, for a live window, the facts known before it), the target is the part of the product's truth
that has been heard so far (``facts.heard_facts``), as one keyed line. So the model learns to keep product
facts, drop chatter, filler and passing mentions of other products, spell names the way the catalogue does,
carry facts from window to window while the same product is on air, and start again when the host moves on.

The base weights are the Q4_1 GGUF itself, dequantized by transformers, so the adapter is trained against
exactly the weights llama.cpp runs. Only the top layers get adapters (backward stops there: CPU time), and
only v/o projections and the MLP (the q/k rows are permuted in GGUF files; leaving them out keeps the
export a plain copy). The adapter is written as a GGUF LoRA file that llama.cpp applies at load.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ampere.facts import Facts, merge
from ampere.summarize import adapter_prompt
from ampere_train.factscore import heard_facts, truth_facts

TARGET_MODULES = {
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}


@dataclass
class Pair:
    item_id: str
    before: str  # keyed facts line known before this item ("none" for a video or a new stream)
    transcript: str
    target: str  # keyed facts line


@dataclass
class LoraTrainConfig:
    rank: int = 8
    alpha: float = 16.0
    top_layers: int = 12  # adapters on the last N of SmolLM2's 30 layers
    steps: int = 300
    batch_size: int = 8
    lr: float = 1e-3
    warmup: int = 10
    seed: int = 0
    max_pairs: int | None = None
    threads: int | None = None
    # most windows only carry what was known; pairs where the facts change (a product named, a new
    # product on air) are the ones that teach, so they are drawn this many times as often
    change_weight: int = 3
    init: str | None = None  # an adapter file to continue from


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def build_pairs(dataset_dir: Path, splits: tuple[str, ...] = ("train",), snapper=None) -> list[Pair]:
    """Training pairs from the dataset's ASR (``texts/raw_asr.jsonl``) and truth, for products in ``splits``;
    with a ``names.NameSnapper`` the transcripts are name-corrected first, as the live path hands them over."""
    ds = Path(dataset_dir)
    asr_path = ds / "texts" / "raw_asr.jsonl"
    if not asr_path.is_file():
        raise FileNotFoundError(f"{asr_path} not found: run `ampere prepare-texts {ds} --modes raw_asr` first")
    asr = {r["id"]: r["text"] for r in _jsonl(asr_path)}
    if snapper is not None:
        asr = {i: snapper.correct(t) for i, t in asr.items()}
    products = {p["product_id"]: p for p in _jsonl(ds / "products.jsonl")}
    pairs: list[Pair] = []
    for v in _jsonl(ds / "videos.jsonl"):
        p = products[v["product_id"]]
        if p["split"] in splits and v["id"] in asr:
            target = heard_facts(truth_facts(p), asr[v["id"]])
            pairs.append(Pair(v["id"], Facts().line(), asr[v["id"]], target.line()))
    by_stream: dict[str, list[dict]] = {}
    for w in _jsonl(ds / "windows.jsonl"):
        by_stream.setdefault(w["stream_id"], []).append(w)
    for wins in by_stream.values():
        wins.sort(key=lambda w: w["start"])
        state, on_air = Facts(), None
        for i, w in enumerate(wins):
            pid = w["product_id"]
            if pid is None:
                # no product on air (intro, outro, a break): the target is none and what was known is reset.
                # Its words may reach into the products around it, so both must be in the splits asked for.
                nxt = next((x["product_id"] for x in wins[i + 1 :] if x["product_id"] is not None), None)
                ok = all(q is None or products[q]["split"] in splits for q in (on_air, nxt))
                if ok and w["id"] in asr:
                    pairs.append(Pair(w["id"], state.line(), asr[w["id"]], Facts().line()))
                state, on_air = Facts(), None
                continue
            if pid != on_air:
                # a new product: what was known is about the previous one. A pair whose context holds
                # another split's product would leak its names, so such pairs are skipped.
                context_ok = on_air is None or products[on_air]["split"] in splits
                on_air, before, known = pid, state, Facts()
            else:
                context_ok, before, known = True, state, state
            text = asr.get(w["id"], "")
            state = merge(known, heard_facts(truth_facts(products[pid]), text))
            if products[pid]["split"] in splits and context_ok and w["id"] in asr:
                pairs.append(Pair(w["id"], before.line(), text, state.line()))
    return pairs


# --- training -------------------------------------------------------------------------------------


def load_base(gguf_path: Path):
    """(model, tokenizer) in transformers, dequantized from the GGUF file llama.cpp runs."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    return model, tok


def _encode(tok, pair: Pair) -> tuple[list[int], list[int]]:
    p = tok(adapter_prompt(pair.before, pair.transcript), add_special_tokens=False).input_ids
    t = tok(pair.target + "<|im_end|>", add_special_tokens=False).input_ids
    return p + t, [-100] * len(p) + t


def train_lora(
    pairs: list[Pair], gguf_path: Path, out_path: Path, cfg: LoraTrainConfig, progress: Callable[[str], None] = print
) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    if not pairs:
        raise ValueError("no training pairs")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    pairs = list(pairs)
    rng.shuffle(pairs)
    if cfg.max_pairs:
        pairs = pairs[: cfg.max_pairs]
    t0 = time.time()
    model, tok = load_base(gguf_path)
    n_layers = model.config.num_hidden_layers
    layers = list(range(max(0, n_layers - cfg.top_layers), n_layers))
    lcfg = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,  # type: ignore[arg-type]  # peft annotates int; a float works (scale = alpha / r)
        lora_dropout=0.0,
        bias="none",
        target_modules=list(TARGET_MODULES),
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lcfg)
    if cfg.init:
        progress(f"summarizer train: starting from {cfg.init} ({load_gguf_adapter(model, Path(cfg.init))} tensors)")
    model.train()
    progress(
        f"summarizer train: {len(pairs)} pairs, LoRA r={cfg.rank} on layers {layers[0]}-{layers[-1]}, "
        f"{cfg.steps} steps of {cfg.batch_size} (base loaded in {time.time() - t0:.0f} s)"
    )
    encoded = [_encode(tok, p) for p in pairs]
    pool = [i for i, p in enumerate(pairs) for _ in range(cfg.change_weight if p.target != p.before else 1)]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / max(1, cfg.warmup)) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, cfg.steps))))
        ),
    )
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    order: list[int] = []
    curve = []
    t1 = time.time()
    for step in range(cfg.steps):
        if len(order) < cfg.batch_size:
            more = list(pool)
            rng.shuffle(more)
            order += more
        batch = [encoded[order.pop()] for _ in range(cfg.batch_size)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (x, y) in enumerate(batch):
            ids[i, : len(x)] = torch.tensor(x)
            labels[i, : len(y)] = torch.tensor(y)
            mask[i, : len(x)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        curve.append(round(float(loss.detach()), 4))
        if (step + 1) % 10 == 0 or step == 0 or step + 1 == cfg.steps:
            el = time.time() - t1
            progress(
                f"summarizer train: step {step + 1}/{cfg.steps} loss {sum(curve[-10:]) / len(curve[-10:]):.3f} "
                f"({el:.0f} s, ~{el / (step + 1) * (cfg.steps - step - 1):.0f} s left)"
            )
    meta = {
        "config": asdict(cfg),
        "pairs": len(pairs),
        "loss_curve": curve,
        "train_s": round(time.time() - t0, 1),
        "base": Path(gguf_path).name,
        "layers": layers,
    }
    write_gguf_adapter(model, out_path, cfg.alpha, model.config)
    out_path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    progress(f"summarizer train: wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB) in {meta['train_s']:.0f} s")
    return meta


def load_gguf_adapter(peft_model, path: Path) -> int:
    """Start from an adapter written by ``write_gguf_adapter`` (continue training); returns tensors loaded."""
    import re

    import gguf
    import torch

    by_gguf = {v: k for k, v in TARGET_MODULES.items()}
    params = dict(peft_model.named_parameters())
    pat = re.compile(r"blk\.(\d+)\.(\w+)\.weight\.lora_([ab])$")
    n = 0
    for t in gguf.GGUFReader(str(path)).tensors:
        m = pat.match(t.name)
        if not m:
            continue
        layer, module, ab = int(m.group(1)), by_gguf[m.group(2)], m.group(3).upper()
        group = "self_attn" if module in ("v_proj", "o_proj") else "mlp"
        name = f"base_model.model.model.layers.{layer}.{group}.{module}.lora_{ab}.default.weight"
        if name not in params:
            raise ValueError(f"{path}: {t.name} does not fit this LoRA config (no {name})")
        data = torch.from_numpy(t.data.astype("float32").reshape(params[name].shape))
        with torch.no_grad():
            params[name].copy_(data)
        n += 1
    if not n:
        raise ValueError(f"{path}: no LoRA tensors found")
    return n


def adapter_tensors(peft_model) -> dict[str, tuple]:
    """{gguf tensor base name: (A [r, in], B [out, r])} from a peft model, in llama.cpp's naming."""
    import re

    found: dict[str, dict[str, object]] = {}
    pat = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.default\.weight$")
    for name, t in peft_model.named_parameters():
        m = pat.search(name)
        if m:
            layer, module, ab = int(m.group(1)), m.group(2), m.group(3)
            key = f"blk.{layer}.{TARGET_MODULES[module]}.weight"
            found.setdefault(key, {})[ab] = t.detach().float().cpu().numpy()
    return {k: (v["A"], v["B"]) for k, v in found.items()}


def write_gguf_adapter(peft_model, out_path: Path, alpha: float, config) -> Path:
    """A llama.cpp LoRA adapter (general.type=adapter, adapter.type=lora): per module ``.lora_a`` [r, in]
    and ``.lora_b`` [out, r] in f16; llama.cpp scales by alpha / r as peft does."""
    import gguf
    import numpy as np

    tensors = adapter_tensors(peft_model)
    if not tensors:
        raise ValueError("the model has no LoRA weights to export")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out_path), arch=config.model_type)
    w.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for key in sorted(tensors):
        a, b = tensors[key]
        w.add_tensor(f"{key}.lora_a", a.astype(np.float16))
        w.add_tensor(f"{key}.lora_b", b.astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out_path
