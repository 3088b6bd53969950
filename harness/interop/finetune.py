"""Relufy an existing Llama checkpoint: fine-tune it with a recipe's activation schedule, as a harness run.

    >>> cfg = FinetuneConfig.create("/tmp/tiny-llama", "swi-ft", steps=20, batch_size=4, seq_len=64)  # doctest: +SKIP
    >>> rd = finetune(cfg)                                                                           # doctest: +SKIP

(``python -m harness finetune`` is the command line: ``harness.commands.finetune``.)

It reads a local transformers checkpoint (``LlamaForCausalLM``: config.json, safetensors or .bin, and its
tokenizer beside it; never the Hub), converts it to our model (``harness.interop.hf``), measures it, fine-tunes it
on our corpus tokenized with *its own* tokenizer (``harness.data.corpus``, cached per tokenizer) with the recipe's
FFN activation schedule, measures it again, and leaves an ordinary run directory::

    out/runs/hf-<name>/<variant>/s<seed>/   config.json, metrics.jsonl, ckpt/, tokenizer/
    out/results/hf-<name>/<variant>/s<seed>/train.json     (loss curve; quality and sparsity before/after)

``<name>`` is the checkpoint directory's name, lower-cased (``--name`` overrides; a Hugging Face cache
snapshot ``models--ORG--NAME/snapshots/SHA`` gives ``org--name``). The rest of the harness then treats the
scale ``hf-<name>`` like any other::

    python -m harness eval    --model stocha-p0.7-a0.2 --scale hf-smollm2-135m
    python -m harness profile --model stocha-p0.7-a0.2 --scale hf-smollm2-135m     # sparsity, speed-up
    python -m harness export  --model stocha-p0.7-a0.2 --scale hf-smollm2-135m --format hf OUT_DIR
    python -m reports tables

Schedules. The checkpoint was pre-trained with SILU: it *is* the SILU phase. The K fine-tuning steps
(``--steps K``) then follow the recipe's schedule ``Variant.act_at(k, K)`` — the function ``harness
train`` uses — under one cosine learning-rate schedule (warm-up, then cosine to 0.1·lr, no re-warm-up at
the switch). Two shorthands name registry variants:

==========================  ====================  ===============================================  =========
``--recipe``                run named             the K fine-tuning steps                          inference
==========================  ====================  ===============================================  =========
``swi-ft``                  ``relu``              RELU for all K (Swi+FT's SILU phase is the       RELU
                                                  checkpoint: switch at step 0, then fine-tune)
``stocha-pP`` (e.g. 0.7)    ``stocha-pP-a0.2``    StochA(p=P) for the first 0.8·K, RELU for the    RELU
                                                  last 0.2·K (the largest α of the paper's grid:
                                                  fine-tunes are short)
any registry name           itself                its schedule over K: pre-switch activation for   its own
                                                  (1−α)·K, RELU for α·K (``relu``: RELU for all;
                                                  ``silu``: SILU for all — the control: same data
                                                  and steps, no relufication)
==========================  ====================  ===============================================  =========

Suffixes carry over (``stocha-p0.5-full-tok`` → ``stocha-p0.5-a0.2-full-tok``). Measured on held-out
validation windows, before and after: loss with the checkpoint's own activation and with the recipe's
inference activation swapped in (what a relufication without fine-tuning would give), bits per byte, and
FFN sparsity under the inference activation.

The steps are ``harness train``'s loop (``harness.train.loop.run_steps``: AdamW, clipping, gradient
accumulation, validation and ``metrics.jsonl`` lines, checkpoints), so a fine-tune logs, checkpoints and
resumes exactly like a trained run. One process (CPU, or one GPU with bf16 autocast).

Resuming: periodic checkpoints hold the optimizer and every RNG state, batches are a function of
(seed, step), so ``--resume`` continues exactly; a finished run is not redone unless ``--force``. A second
start of the same run (a fine-tune, or a ``train`` of its directory) while one is going refuses at once,
naming the first one's pid.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import re
import shutil
from dataclasses import dataclass, field

import torch

from harness.data.config import DataConfig
from harness.data.corpus import training_data
from harness.data.tokenizer import HF_TOKENIZER_DIR
from harness.infer.generate import activation
from harness.infer.sparsity import profile_model
from harness.paths import cache_dir, lock_path, run_dir, run_lock
from harness.results import atomic_write_json, metric
from harness.train import checkpoint, dist
from harness.train.checkpoint_files import final_checkpoint
from harness.train.config import check_loop_settings
from harness.train.loop import autocast_for, make_optimizer, run_steps, val_loss
from harness.train.metrics_log import reset_metrics
from harness.train.result import write_train_result
from harness.train.resume import check_compatible, check_same_corpus, resume_state, rng_state, seed_or_resume
from harness.train.run_record import checkpoint_state, run_config
from models.registry import VALID_FORMS, Variant, get_variant, is_imported_scale

FT_ALPHA = 0.2  # α of the stocha-pP shorthand: the last 20% of the fine-tuning steps are RELU
_STOCHA_SHORT = re.compile(r"^stocha-p(\d+(?:\.\d+)?|\.\d+)(?P<rest>(?:-full|-neg)?(?:-tok|-tensor|-element)?)$")


def resolve_recipe(recipe: str) -> Variant:
    """The registry variant a ``--recipe`` names (shorthands in the module docstring)."""
    r = recipe.strip().lower()
    if r == "swi-ft":
        return get_variant("relu")
    m = _STOCHA_SHORT.match(r)
    if m:
        return get_variant(f"stocha-p{m.group(1)}-a{FT_ALPHA:g}{m.group('rest')}")
    try:
        return get_variant(r)
    except ValueError:
        raise ValueError(f"unknown recipe {recipe!r}; valid: swi-ft, stocha-p{{p}} (shorthands), or a variant: "
                         f"{VALID_FORMS}") from None


def default_name(path) -> str:
    """Run name of a checkpoint (``harness.interop.import_run.default_name``: a directory's name, a .gguf
    file's stem, Hub cache snapshots by repository)."""
    from harness.interop.import_run import default_name as name_of

    return name_of(path)


@dataclass
class FinetuneConfig:
    """Everything that defines a fine-tuning run (the ``train_config`` of its checkpoints)."""

    source: str  # the checkpoint directory (resolved path)
    recipe: str  # as given
    model: str  # the registry variant the run is named by
    scale: str  # hf-<name>
    seed: int = 0
    steps: int = 200
    batch_size: int = 8
    seq_len: int | None = None  # None: min(256, the checkpoint's context)
    lr: float = 1e-4
    warmup: int | None = None  # None: 5% of the steps
    min_lr_frac: float = 0.1
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    grad_accum: int = 1
    max_seq_len: int | None = None  # cap the checkpoint's context (None: its max_position_embeddings)
    eval_every: int = 50
    eval_seqs: int = 16
    log_every: int = 10
    ckpt_every: int = 100
    keep_ckpts: int = 2
    data: dict = field(default_factory=lambda: DataConfig().to_dict())
    device: str = "auto"
    threads: int | None = None

    @classmethod
    def create(cls, source, recipe: str, name: str | None = None, seed: int = 0, **overrides) -> FinetuneConfig:
        path = pathlib.Path(source).expanduser().resolve()
        variant = resolve_recipe(recipe)
        scale = "hf-" + (name or default_name(path))
        if not is_imported_scale(scale):
            raise ValueError(f"--name {name!r}: use lower-case letters, digits, '.', '_' and '-'")
        known = {f.name for f in dataclasses.fields(cls)}
        over = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(over) - known
        if unknown:
            raise ValueError(f"unknown fine-tuning settings: {', '.join(sorted(unknown))}")
        if isinstance(over.get("data"), DataConfig):
            over["data"] = over["data"].to_dict()
        cfg = cls(source=str(path), recipe=recipe, model=variant.name, scale=scale, seed=seed, **over)
        from harness.interop.hf import read_hf_config

        model_cfg, _, _ = read_hf_config(path, cfg.max_seq_len)  # a bad checkpoint fails before any write
        if cfg.seq_len is None:
            cfg.seq_len = min(256, model_cfg.max_seq_len)
        if cfg.seq_len > model_cfg.max_seq_len:
            raise ValueError(f"--seq-len {cfg.seq_len} exceeds the checkpoint's context of "
                             f"{model_cfg.max_seq_len} tokens")
        if cfg.warmup is None:
            cfg.warmup = max(1, round(0.05 * cfg.steps))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        check_loop_settings(self)
        if self.batch_size % self.grad_accum:
            raise ValueError(f"batch_size {self.batch_size} is not divisible by grad_accum {self.grad_accum}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---- measurements ---------------------------------------------------------------------------------
def measure(model, val: torch.Tensor, tok, variant: Variant, own_act, micro: int, autocast) -> dict:
    """Quality and sparsity of ``model`` now: loss with its own activation and with the recipe's inference
    activation, bits per byte, and FFN sparsity (exact zeros) under the inference activation."""
    n_bytes = sum(len(tok.decode(row[1:].tolist()).encode("utf-8")) for row in val)
    n_tok = val[:, 1:].numel()
    infer = variant.inference_act
    out = {"act": str(own_act), "inference_act": str(infer),
           "val_loss": val_loss(model, val, own_act, micro, autocast),
           "val_loss_infer": val_loss(model, val, infer, micro, autocast), "val_tokens": n_tok,
           "val_bytes": n_bytes}
    # bits per byte: the loss over the windows' UTF-8 bytes (comparable across tokenizers, approximately:
    # a window may cut a multi-byte character)
    to_bpb = n_tok / max(1, n_bytes) / math.log(2)
    out["val_bpb"], out["val_bpb_infer"] = out["val_loss"] * to_bpb, out["val_loss_infer"] * to_bpb
    gen_state = model.act_generator.get_state()
    with activation(model, infer):
        out["sparsity_infer"] = profile_model(model, val[:, :-1].to(model.tok_embeddings.weight.device),
                                              batch_size=micro)["sparsity"]
    model.act_generator.set_state(gen_state)
    return out


# ---- the run ---------------------------------------------------------------------------------------
def finetune(cfg: FinetuneConfig, resume: bool = False, force: bool = False, progress: bool = True) -> pathlib.Path:
    """Fine-tune (or resume, or skip if finished) the run ``cfg`` describes; returns its run directory.

    The run is locked while it fine-tunes, with the lock ``harness train`` takes for the same run directory
    (``harness.paths.run_lock``): a second start refuses at once, naming the first one's pid."""
    rd = run_dir(cfg.scale, cfg.model, cfg.seed)
    with run_lock(lock_path("train", cfg.scale, cfg.model, cfg.seed),
                  f"fine-tuning of {cfg.scale}/{cfg.model}/s{cfg.seed}"):
        return _finetune(cfg, rd, resume, force, progress)


def _same_source(rd: pathlib.Path, cfg: FinetuneConfig) -> None:
    """A run directory belongs to one checkpoint: refuse to mix another into it."""
    p = rd / "config.json"
    if p.exists():
        old = json.loads(p.read_text()).get("train_config", {}).get("source")
        if old and old != cfg.source:
            raise ValueError(f"{rd} holds a fine-tune of {old}, not {cfg.source}: pass --name to keep both, "
                             f"or --force to replace it")


def _save_tokenizer(tok, rd: pathlib.Path) -> None:
    """The run's tokenizer in ``<run>/tokenizer`` (written beside, then renamed into place)."""
    from harness.data.tokenizer import HFTokenizer

    dest = rd / HF_TOKENIZER_DIR
    if dest.is_dir():
        if HFTokenizer(dest).digest() == tok.digest():
            return
        shutil.rmtree(dest)  # only reached with --force or a fresh run: _same_source guards the rest
    tmp = rd / f".{HF_TOKENIZER_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save(tmp)
    tmp.rename(dest)


def _finetune(cfg: FinetuneConfig, rd: pathlib.Path, resume: bool, force: bool, progress: bool):
    from harness.interop.hf import load_hf_checkpoint

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    variant = get_variant(cfg.model)
    cfgp = rd / "config.json"
    if cfgp.exists() and json.loads(cfgp.read_text()).get("train_config", {}).get("imported"):  # even with --force
        raise ValueError(f"{rd} is the checkpoint as imported (python -m harness import), not a fine-tune: "
                         f"fine-tune into another seed (--seed 1) or name (--name)")
    if not force:
        _same_source(rd, cfg)
    if final_checkpoint(rd) and not force:
        print(f"{rd}: already fine-tuned (ckpt/final.pt); --force redoes it")
        return rd
    latest, state = resume_state(rd, resume, force)
    env = dist.DistEnv(device=dist.pick_device(cfg.device))  # one process
    model, tok, source = load_hf_checkpoint(cfg.source, max_seq_len=cfg.max_seq_len, seed=cfg.seed)
    own_act = model.activation
    micro = cfg.batch_size // cfg.grad_accum
    model_cfg = model.cfg.to_dict()
    if state is not None:
        changed = state.get("source", {}).get("files") != source["files"]
        check_compatible(state, cfg, latest, model_cfg,
                         [f"the files in {cfg.source} changed since the checkpoint was written"] if changed else [])
    start = int(state["step"]) if state else 0
    print(f"tokenizing the corpus with the checkpoint's tokenizer (cached under {cache_dir() / 'corpus'})")
    corpus, val = training_data(DataConfig(**cfg.data), cfg.seq_len, cfg.eval_seqs, tok)
    check_same_corpus(state, corpus, latest)

    # Everything checked: now the run directory may change.
    if force and rd.exists():
        for sub in ("ckpt", HF_TOKENIZER_DIR):
            shutil.rmtree(rd / sub, ignore_errors=True)
    rd.mkdir(parents=True, exist_ok=True)
    _save_tokenizer(tok, rd)
    reset_metrics(rd / "metrics.jsonl", start)
    autocast = autocast_for(env.device)
    model.to(env.device)
    if state is None:
        print(f"measuring {pathlib.Path(cfg.source).name} before fine-tuning ({cfg.eval_seqs} held-out windows)")
        before = measure(model, val, tok, variant, own_act, micro, autocast)
    else:
        before = state["before"]
    model.set_activation(variant.act_at(start, cfg.steps))
    model.train()
    opt = make_optimizer(model, cfg)
    wall0, log_acc = seed_or_resume(model, model, opt, cfg.seed, state)
    del state
    atomic_write_json(rd / "config.json", run_config(
        cfg, variant, scale={"name": cfg.scale, "imported": True, "model": model_cfg},
        num_params=model.num_params(), world_size=1, device=env.device, threads=torch.get_num_threads(),
        corpus=corpus, tokenizer=tok, start=start, source={k: source[k] for k in ("path", "hidden_act", "hf_config")},
        before=before))

    def save(step: int, final: bool, wall_s: float, log_acc: tuple[float, int]):
        if final:  # measured before the final checkpoint is written: a finished run always has after.json
            atomic_write_json(rd / "after.json", measure(model, val, tok, variant, own_act, micro, autocast))
        checkpoint.save(rd, checkpoint_state(
            cfg, variant, step=step, model=model.state_dict(), optimizer=None if final else opt.state_dict(),
            rng=[rng_state(model)], corpus=corpus, scale=cfg.scale, model_config=model_cfg, tokenizer=tok,
            world_size=1, wall_s=wall_s, log_acc=log_acc,
            source={"path": source["path"], "files": source["files"]}, before=before),
            final=final, keep=cfg.keep_ckpts)

    run_steps(cfg, variant, model, model, opt, corpus, val, env=env, save=save, metrics_path=rd / "metrics.jsonl",
              start=start, wall0=wall0, log_acc=log_acc, progress=progress, desc=f"{variant.name}@{cfg.scale}")
    write_finetune_result(rd)
    return rd


# ---- the result ------------------------------------------------------------------------------------
def write_finetune_result(rd: pathlib.Path) -> pathlib.Path:
    """The ``train`` result of a finished fine-tune: the curve (as a trained run's), and quality and sparsity
    before/after as metrics (``val_loss_before``, ``val_loss_before_infer``, ``ffn_sparsity_after``, ...)."""
    cfgd = json.loads((rd / "config.json").read_text())
    after = json.loads((rd / "after.json").read_text())
    before, tc = cfgd["before"], cfgd["train_config"]
    n = before["val_tokens"]
    low = {"higher_is_better": False, "n": n}

    def metrics(last):
        return [metric("train_loss", last["loss"], higher_is_better=False),
                metric("val_loss", after["val_loss_infer"], act=after["inference_act"], **low),
                metric("val_bpb", after["val_bpb_infer"], act=after["inference_act"], **low),
                metric("val_loss_before", before["val_loss"], act=before["act"], **low),
                metric("val_bpb_before", before["val_bpb"], act=before["act"], **low),
                metric("val_loss_before_infer", before["val_loss_infer"], act=before["inference_act"], **low),
                metric("val_bpb_before_infer", before["val_bpb_infer"], act=before["inference_act"], **low),
                metric("ffn_sparsity_before", before["sparsity_infer"], act=before["inference_act"], n=n),
                metric("ffn_sparsity_after", after["sparsity_infer"], act=after["inference_act"], n=n),
                metric("tokens", last["tokens"]), metric("wall_s", last["wall_s"], higher_is_better=False)]

    return write_train_result(rd, metrics, backend="sparsebench-finetune", source=cfgd["source"]["path"],
                                    finetune={"recipe": tc["recipe"], "schedule": cfgd["schedule"],
                                              "before": before, "after": after})
