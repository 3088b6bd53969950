"""What the training corpus is made of: the sources and their mixture weights (``DataConfig``).

Standard library only: the command line shows these defaults without loading numpy or torch.

    >>> DataConfig.make("synth_code=0.5,stdlib=0.5").mix
    {'synth_code': 0.5, 'stdlib': 0.5}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SOURCES = ("synth_code", "synth_reason", "stdlib", "user")
# The default mixture (a knob: --mix, TrainConfig.data); weights are renormalised.
DEFAULT_MIX = {"synth_code": 0.45, "synth_reason": 0.45, "stdlib": 0.1}


@dataclass(frozen=True)
class DataConfig:
    """What the corpus is made of. Part of the train config (checkpoint compatibility checks it)."""

    mix: dict = field(default_factory=lambda: dict(DEFAULT_MIX))
    data: str | None = None  # user corpus: path or hf:NAME (required when mix has "user")
    corpus_seed: int = 0  # seed of the synthetic generators (independent of the training seed)
    synth_docs: int = 20000  # training documents per synthetic family

    def __post_init__(self):
        mix = {k: float(v) for k, v in dict(self.mix).items() if float(v) != 0.0}
        for k, v in mix.items():
            if k not in SOURCES:
                raise ValueError(f"unknown corpus source {k!r}; valid: {', '.join(SOURCES)}")
            if v < 0:
                raise ValueError(f"mixture weight of {k} is negative ({v:g})")
        if not mix:
            raise ValueError("the corpus mixture is empty")
        if "user" in mix and not self.data:
            raise ValueError("the mixture uses 'user' data but no --data PATH was given")
        if self.synth_docs < 1:
            raise ValueError(f"synth_docs must be positive, got {self.synth_docs}")
        object.__setattr__(self, "mix", mix)

    @classmethod
    def make(cls, mix: str | dict | None = None, data: str | None = None, **kw) -> DataConfig:
        """From CLI-style values: ``--data`` alone means train on that corpus only."""
        if isinstance(mix, str):
            mix = parse_mix(mix)
        if mix is None:
            mix = {"user": 1.0} if data else dict(DEFAULT_MIX)
        return cls(mix=mix, data=data, **kw)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_mix(text: str) -> dict:
    """``"synth_code=0.4,stdlib=0.2"`` → dict. Bad input raises one clear ValueError."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, val = part.partition("=")
        try:
            out[name.strip()] = float(val) if eq else None
        except ValueError:
            out[name.strip()] = None
        if out[name.strip()] is None:
            raise ValueError(f"bad mixture entry {part!r}: use NAME=WEIGHT, e.g. synth_code=0.4,stdlib=0.2")
    return out
