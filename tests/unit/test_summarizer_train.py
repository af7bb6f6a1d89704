import json

import pytest

from ampere.facts import parse
from ampere.summarize import adapter_prompt as prompt
from ampere_train.summarizer import build_pairs


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _product(pid, split, brand, model):
    return {
        "product_id": pid,
        "split": split,
        "brand": brand,
        "model": model,
        "category": "mug",
        "colour": "red",
        "material": "glass",
        "price": 19,
        "group": "g0",
        "shape": "straight",
        "pattern": "solid",
    }


@pytest.fixture
def dataset(tmp_path):
    _write(
        tmp_path / "products.jsonl",
        [
            _product("a", "train", "Open Lane", "Hawk 60"),
            _product("b", "train", "Red Mountain", "Echo 10"),
            _product("t", "test", "Sun Bridge", "Tiger 40"),
        ],
    )
    _write(tmp_path / "videos.jsonl", [{"id": "a-video0", "product_id": "a"}, {"id": "t-video0", "product_id": "t"}])
    wins = [("s:0", "a", 0), ("s:4", "a", 4), ("s:8", "b", 8), ("s:12", "t", 12), ("s:16", "a", 16), ("s:20", "a", 20)]
    _write(
        tmp_path / "windows.jsonl",
        [{"id": i, "stream_id": "s", "product_id": p, "start": s, "end": s + 8} for i, p, s in reversed(wins)],
    )  # order on disk must not matter
    (tmp_path / "texts").mkdir()
    _write(
        tmp_path / "texts" / "raw_asr.jsonl",
        [
            {"id": "a-video0", "text": "This is the open lane hawk 60 mug, only $19."},
            {"id": "t-video0", "text": "This is the Sun Bridge Tiger 40."},
            {"id": "s:0", "text": "Hi guys. Check out the Open Lane Hawk 60."},
            {"id": "s:4", "text": "Drop a heart in the chat. Yesterday the Red Mountain Echo 10 sold out."},
            {"id": "s:8", "text": "Alright, here is something new."},
            {"id": "s:12", "text": "So this one is the Sun Bridge Tiger 40."},
            {"id": "s:16", "text": "Next up, the Open Lane. It is made of glass."},
            {"id": "s:20", "text": "Thanks for all the likes."},
        ],
    )
    return tmp_path


def test_pairs_carry_facts_reset_on_a_new_product_and_never_show_test_products(dataset):
    pairs = {p.item_id: p for p in build_pairs(dataset)}
    assert set(pairs) == {"a-video0", "s:0", "s:4", "s:8", "s:20"}
    assert parse(pairs["a-video0"].target).price == "19" and pairs["a-video0"].before == "none"
    assert parse(pairs["s:0"].target).brand == "Open Lane" and parse(pairs["s:0"].target).model == "Hawk 60"
    # chatter and a passing mention of another product: the facts on air stay
    assert pairs["s:4"].before == pairs["s:0"].target and pairs["s:4"].target == pairs["s:0"].target
    # a new product, not named yet: what was known was about the previous one
    assert pairs["s:8"].before == pairs["s:4"].target and pairs["s:8"].target == "none"
    # s:12 is a test product (no pair); s:16 would carry its names as context, so it is skipped too
    text = json.dumps([p.__dict__ for p in pairs.values()])
    assert "Sun Bridge" not in text and "Tiger" not in text
    assert parse(pairs["s:20"].before).material == "glass"


def test_prompt_is_chatml_with_context_and_transcript():
    p = prompt("brand: Open Lane", "hello   there")
    assert p.startswith("<|im_start|>system\n") and p.endswith("<|im_start|>assistant\n")
    assert "before: brand: Open Lane\nnow: hello there" in p


def test_gguf_adapter_has_llama_cpp_names_shapes_and_alpha(tmp_path):
    torch = pytest.importorskip("torch")
    gguf = pytest.importorskip("gguf")
    peft = pytest.importorskip("peft")
    from transformers import LlamaConfig, LlamaForCausalLM

    from ampere_train.summarizer import TARGET_MODULES, write_gguf_adapter

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    model = peft.get_peft_model(
        LlamaForCausalLM(cfg),
        peft.LoraConfig(r=4, lora_alpha=8, target_modules=list(TARGET_MODULES), layers_to_transform=[1, 2]),
    )
    out = write_gguf_adapter(model, tmp_path / "a.gguf", 8.0, cfg)
    reader = gguf.GGUFReader(str(out))
    fields = {f.name: f for f in reader.fields.values()}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 8.0
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    assert len(shapes) == 2 * 2 * len(TARGET_MODULES) and not any(n.startswith("blk.0.") for n in shapes)
    # gguf shapes are reversed numpy shapes: lora_a [r, in] -> (in, r); lora_b [out, r] -> (r, out)
    assert shapes["blk.1.attn_v.weight.lora_a"] == (32, 4)
    assert shapes["blk.1.attn_v.weight.lora_b"] == (4, 16)  # 2 kv heads x 8
    assert shapes["blk.2.ffn_down.weight.lora_a"] == (48, 4)


def test_gguf_adapter_loads_back_for_continued_training(tmp_path):
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    from transformers import LlamaConfig, LlamaForCausalLM

    from ampere_train.summarizer import TARGET_MODULES, load_gguf_adapter, write_gguf_adapter

    def make(seed):
        torch.manual_seed(seed)
        cfg = LlamaConfig(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
        m = peft.get_peft_model(
            LlamaForCausalLM(cfg),
            peft.LoraConfig(r=4, lora_alpha=8, target_modules=list(TARGET_MODULES), init_lora_weights=False),
        )
        return m, cfg

    a, cfg = make(0)
    b, _ = make(1)
    write_gguf_adapter(a, tmp_path / "a.gguf", 8.0, cfg)
    assert load_gguf_adapter(b, tmp_path / "a.gguf") == 2 * 2 * len(TARGET_MODULES)
    pa = {n: p for n, p in a.named_parameters() if "lora_" in n}
    pb = {n: p for n, p in b.named_parameters() if "lora_" in n}
    assert all(torch.allclose(pa[n].half().float(), pb[n]) for n in pa)  # f16 in the file
