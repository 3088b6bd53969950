"""Synthetic task families: small Python functions and grade-school word problems, seeded and offline.

The training corpus and the evaluation suites draw from the same families. Which split an item belongs to
is decided by a hash of its *semantic key* (function signature + description, or the question text) — not
by the generator's seed — so the evaluation items can never occur in the training data, whatever seeds or
sizes are used (``tests/test_synth.py`` checks it).

    >>> t = code_tasks("eval", 1)[0]
    >>> sorted(t)  # HumanEval format
    ['canonical_solution', 'entry_point', 'family', 'prompt', 'task_id', 'test']
    >>> p = reason_problems("eval", 1)[0]
    >>> p["answer"].splitlines()[-1].startswith("####")
    True

Version: bump ``VERSION`` whenever an item could change; suites record it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator

VERSION = "1"
EVAL_FRACTION = 10  # one key in EVAL_FRACTION goes to the evaluation split


def split_of(key: str) -> str:
    """'eval' for ~1/EVAL_FRACTION of keys, 'train' otherwise; stable across runs and machines."""
    h = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    return "eval" if h % EVAL_FRACTION == 0 else "train"


# ---- code families ----------------------------------------------------------------------------
# Each family returns (names, args, description, body, input_generator). The body is the canonical
# solution; expected outputs are obtained by running it (our own trusted code) on the inputs.

_NUM_ARGS = ["x", "n", "a", "num", "value", "k", "m", "i"]
_STR_ARGS = ["s", "text", "word", "string", "name", "t"]
_LIST_ARGS = ["xs", "nums", "items", "values", "lst", "arr", "numbers", "data"]

_OPS = {  # word, symbol, function-name stem
    "plus": ("+", "add"), "minus": ("-", "sub"), "times": ("*", "mul"),
}


def _ints(rng, lo=-20, hi=40):
    return lambda: (rng.randint(lo, hi),)


def _fam_arith_const(rng):
    word = rng.choice(list(_OPS))
    sym, stem = _OPS[word]
    k = rng.randint(2, 19)
    x = rng.choice(_NUM_ARGS)
    name = rng.choice([f"{stem}_{k}", f"{stem}_{_spell(k)}", f"{stem}{k}", f"{word}_{k}"])
    desc = rng.choice([f"Return {x} {word} {k}.", f"Compute {x} {word} {k}.", f"Return the value of {x} {word} {k}."])
    return name, [x], desc, f"    return {x} {sym} {k}\n", _ints(rng)


def _fam_arith_two(rng):
    (w1, (s1, _)), (w2, (s2, _)) = rng.choice(list(_OPS.items())), rng.choice(list(_OPS.items()))
    k1, k2 = rng.randint(2, 9), rng.randint(1, 19)
    x = rng.choice(_NUM_ARGS)
    name = rng.choice(["transform", "compute", "calc", "apply_ops", "f", "combine", "formula"])
    desc = rng.choice([f"Return {x} {w1} {k1} {w2} {k2}.", f"Compute {x} {w1} {k1}, then {w2} {k2}."])
    return name, [x], desc, f"    return {x} {s1} {k1} {s2} {k2}\n", _ints(rng, -9, 20)


def _fam_two_args(rng):
    a, b = rng.sample(_NUM_ARGS, 2)
    kind = rng.choice(["sum", "product", "difference", "max", "min", "avg_floor", "sq_sum"])
    spec = {
        "sum": (["add", "sum_two", "plus"], f"Return the sum of {a} and {b}.", f"{a} + {b}"),
        "product": (["multiply", "product", "mul"], f"Return the product of {a} and {b}.", f"{a} * {b}"),
        "difference": (["subtract", "difference", "diff"], f"Return {a} minus {b}.", f"{a} - {b}"),
        "max": (["larger", "max_of", "bigger"], f"Return the larger of {a} and {b}.", f"max({a}, {b})"),
        "min": (["smaller", "min_of", "lesser"], f"Return the smaller of {a} and {b}.", f"min({a}, {b})"),
        "avg_floor": (["mean_floor", "average"], f"Return the average of {a} and {b}, rounded down.",
                      f"({a} + {b}) // 2"),
        "sq_sum": (["sum_squares", "square_sum"], f"Return {a} squared plus {b} squared.",
                   f"{a} * {a} + {b} * {b}"),
    }[kind]
    return rng.choice(spec[0]), [a, b], spec[1], f"    return {spec[2]}\n", \
        lambda: (rng.randint(-15, 30), rng.randint(-15, 30))


def _fam_string(rng):
    s = rng.choice(_STR_ARGS)
    ch = rng.choice("aeiost")
    k = rng.randint(2, 4)
    suffix = rng.choice(["!", "?", "ing", "ed", "s", "_x", "123"])
    kind = rng.choice(["upper", "lower", "reverse", "repeat", "first", "last", "length", "suffix", "prefix",
                       "count", "replace", "double_first", "strip_char", "swapcase"])
    spec = {
        "upper": (["to_upper", "shout", "upper"], f"Return {s} in upper case.", f"{s}.upper()"),
        "lower": (["to_lower", "lower", "quiet"], f"Return {s} in lower case.", f"{s}.lower()"),
        "reverse": (["reverse", "backwards", "flip"], f"Return {s} reversed.", f"{s}[::-1]"),
        "repeat": ([f"repeat_{k}", "repeat"], f"Return {s} repeated {k} times.", f"{s} * {k}"),
        "first": (["first_char", "head"], f"Return the first character of {s}.", f"{s}[:1]"),
        "last": (["last_char", "tail"], f"Return the last character of {s}.", f"{s}[-1:]"),
        "length": (["length", "size", "count_chars"], f"Return the number of characters in {s}.", f"len({s})"),
        "suffix": (["add_suffix", "append"], f"Return {s} followed by {suffix!r}.", f"{s} + {suffix!r}"),
        "prefix": (["add_prefix", "prepend"], f"Return {suffix!r} followed by {s}.", f"{suffix!r} + {s}"),
        "count": ([f"count_{ch}", "count_letter"], f"Return how many times {ch!r} occurs in {s}.",
                  f"{s}.count({ch!r})"),
        "replace": ([f"replace_{ch}", "substitute"], f"Return {s} with every {ch!r} replaced by '-'.",
                    f"{s}.replace({ch!r}, '-')"),
        "double_first": (["double_first", "stutter"], f"Return the first character of {s} twice, then the rest.",
                         f"{s}[:1] + {s}"),
        "strip_char": ([f"strip_{ch}", "trim"], f"Return {s} without leading or trailing {ch!r}.",
                       f"{s}.strip({ch!r})"),
        "swapcase": (["swap_case", "swapcase"], f"Return {s} with the case of each letter swapped.",
                     f"{s}.swapcase()"),
    }[kind]
    return rng.choice(spec[0]), [s], spec[1], f"    return {spec[2]}\n", lambda: (_word(rng),)


def _fam_list(rng):
    xs = rng.choice(_LIST_ARGS)
    k = rng.randint(2, 9)
    kind = rng.choice(["sum", "max", "min", "len", "reverse", "sorted", "first", "last", "evens", "odds",
                       "positives", "double", "square", "add_k", "count_k", "greater_k"])
    v = rng.choice(["v", "e", "x", "item", "n"])
    spec = {
        "sum": (["total", "sum_list", "list_sum"], f"Return the sum of the numbers in {xs}.", f"sum({xs})"),
        "max": (["largest", "max_list", "biggest"], f"Return the largest number in {xs}.", f"max({xs})"),
        "min": (["smallest", "min_list", "lowest"], f"Return the smallest number in {xs}.", f"min({xs})"),
        "len": (["count", "length", "size"], f"Return the number of elements in {xs}.", f"len({xs})"),
        "reverse": (["reverse_list", "reversed_list"], f"Return {xs} in reverse order.", f"{xs}[::-1]"),
        "sorted": (["sort_list", "ascending"], f"Return {xs} sorted in increasing order.", f"sorted({xs})"),
        "first": (["first", "head"], f"Return the first element of {xs}.", f"{xs}[0]"),
        "last": (["last", "final"], f"Return the last element of {xs}.", f"{xs}[-1]"),
        "evens": (["evens", "keep_even"], f"Return the even numbers of {xs}.", f"[{v} for {v} in {xs} if {v} % 2 == 0]"),
        "odds": (["odds", "keep_odd"], f"Return the odd numbers of {xs}.", f"[{v} for {v} in {xs} if {v} % 2 == 1]"),
        "positives": (["positives", "keep_positive"], f"Return the numbers of {xs} greater than zero.",
                      f"[{v} for {v} in {xs} if {v} > 0]"),
        "double": (["double_all", "doubled"], f"Return each number of {xs} times 2.", f"[{v} * 2 for {v} in {xs}]"),
        "square": (["squares", "square_all"], f"Return the square of each number of {xs}.",
                   f"[{v} * {v} for {v} in {xs}]"),
        "add_k": ([f"add_{k}_all", "shift"], f"Return each number of {xs} plus {k}.", f"[{v} + {k} for {v} in {xs}]"),
        "count_k": ([f"count_{k}", "occurrences"], f"Return how many times {k} occurs in {xs}.", f"{xs}.count({k})"),
        "greater_k": ([f"above_{k}", "count_above"], f"Return how many numbers in {xs} are greater than {k}.",
                      f"sum(1 for {v} in {xs} if {v} > {k})"),
    }[kind]
    return rng.choice(spec[0]), [xs], spec[1], f"    return {spec[2]}\n", \
        lambda: ([rng.randint(-5, 12) for _ in range(rng.randint(1, 6))],)


def _fam_cond(rng):
    x = rng.choice(_NUM_ARGS)
    k = rng.randint(-3, 12)
    lo, hi = sorted(rng.sample(range(-5, 25), 2))
    kind = rng.choice(["sign", "abs", "is_even", "clamp", "above", "parity_word", "max_k"])
    spec = {
        "sign": (["sign", "signum"], f"Return 1 if {x} is positive, -1 if it is negative, else 0.",
                 f"    if {x} > 0:\n        return 1\n    if {x} < 0:\n        return -1\n    return 0\n"),
        "abs": (["absolute", "magnitude"], f"Return the absolute value of {x}.",
                f"    if {x} < 0:\n        return -{x}\n    return {x}\n"),
        "is_even": (["is_even", "even"], f"Return True if {x} is even, else False.", f"    return {x} % 2 == 0\n"),
        "clamp": ([f"clamp_{lo}_{hi}".replace("-", "m"), "clamp"], f"Return {x} limited to the range {lo} to {hi}.",
                  f"    if {x} < {lo}:\n        return {lo}\n    if {x} > {hi}:\n        return {hi}\n    return {x}\n"),
        "above": ([f"above_{k}".replace("-", "m"), "is_big"], f"Return True if {x} is greater than {k}.",
                  f"    return {x} > {k}\n"),
        "parity_word": (["parity", "even_or_odd"], f"Return 'even' if {x} is even, otherwise 'odd'.",
                        f"    if {x} % 2 == 0:\n        return 'even'\n    return 'odd'\n"),
        "max_k": ([f"at_least_{k}".replace("-", "m"), "floor_at"], f"Return {x}, or {k} if {x} is smaller than {k}.",
                  f"    if {x} < {k}:\n        return {k}\n    return {x}\n"),
    }[kind]
    return rng.choice(spec[0]), [x], spec[1], spec[2], _ints(rng, -15, 30)


def _fam_loop(rng):
    n = rng.choice(["n", "k", "m", "count"])
    acc = rng.choice(["total", "result", "acc", "s"])
    b = rng.randint(2, 5)
    kind = rng.choice(["sum_to", "factorial", "sum_digits", "count_digits", "sum_multiples", "power",
                       "sum_from"])
    spec = {
        "sum_to": (["sum_to", "triangle"], f"Return the sum of the integers from 1 to {n}.",
                   f"    {acc} = 0\n    for i in range(1, {n} + 1):\n        {acc} += i\n    return {acc}\n", (0, 30)),
        "sum_from": ([f"sum_from_{b}", "range_total"], f"Return the sum of the integers from {b} to {n}.",
                     f"    {acc} = 0\n    for i in range({b}, {n} + 1):\n        {acc} += i\n    return {acc}\n",
                     (0, 30)),
        "factorial": (["factorial", "fact"], f"Return the factorial of {n}.",
                      f"    {acc} = 1\n    for i in range(2, {n} + 1):\n        {acc} *= i\n    return {acc}\n", (0, 8)),
        "sum_digits": (["digit_sum", "sum_digits"], f"Return the sum of the decimal digits of {n}.",
                       f"    {acc} = 0\n    while {n} > 0:\n        {acc} += {n} % 10\n        {n} //= 10\n    return {acc}\n",
                       (0, 9999)),
        "count_digits": (["num_digits", "count_digits"], f"Return the number of decimal digits of {n}.",
                         f"    return len(str({n}))\n", (0, 99999)),
        "sum_multiples": ([f"sum_multiples_{b}", "multiples_total"],
                          f"Return the sum of the multiples of {b} from 0 to {n}.",
                          f"    {acc} = 0\n    for i in range(0, {n} + 1, {b}):\n        {acc} += i\n    return {acc}\n",
                          (0, 40)),
        "power": ([f"power_of_{b}", f"pow{b}"], f"Return {b} to the power {n}.",
                  f"    {acc} = 1\n    for _ in range({n}):\n        {acc} *= {b}\n    return {acc}\n", (0, 8)),
    }[kind]
    lo, hi = spec[3]
    return rng.choice(spec[0]), [n], spec[1], spec[2], lambda: (rng.randint(lo, hi),)


def _fam_compose(rng):
    xs = rng.choice(_LIST_ARGS)
    v = rng.choice(["v", "x", "e"])
    k = rng.randint(2, 5)
    kind = rng.choice(["sum_squares", "count_even", "sum_positive", "max_minus_min", "sum_times_k", "len_words"])
    spec = {
        "sum_squares": (["sum_of_squares", "square_total"], f"Return the sum of the squares of the numbers in {xs}.",
                        f"sum({v} * {v} for {v} in {xs})"),
        "count_even": (["count_even", "num_even"], f"Return how many numbers in {xs} are even.",
                       f"sum(1 for {v} in {xs} if {v} % 2 == 0)"),
        "sum_positive": (["sum_positive", "positive_total"], f"Return the sum of the positive numbers in {xs}.",
                         f"sum({v} for {v} in {xs} if {v} > 0)"),
        "max_minus_min": (["spread", "value_range"], f"Return the largest number in {xs} minus the smallest.",
                          f"max({xs}) - min({xs})"),
        "sum_times_k": ([f"scaled_sum_{k}", "scaled_total"], f"Return {k} times the sum of the numbers in {xs}.",
                        f"{k} * sum({xs})"),
        "len_words": (["word_lengths", "lengths"], f"Return the length of each string in {xs}.",
                      f"[len({v}) for {v} in {xs}]"),
    }[kind]
    if kind == "len_words":
        gen = lambda: ([_word(rng) for _ in range(rng.randint(1, 4))],)  # noqa: E731
    else:
        gen = lambda: ([rng.randint(-6, 12) for _ in range(rng.randint(1, 6))],)  # noqa: E731
    return rng.choice(spec[0]), [xs], spec[1], f"    return {spec[2]}\n", gen


CODE_FAMILIES: dict[str, Callable] = {
    "arith_const": _fam_arith_const, "arith_two": _fam_arith_two, "two_args": _fam_two_args,
    "string": _fam_string, "list": _fam_list, "conditional": _fam_cond, "loop": _fam_loop,
    "compose": _fam_compose,
}

_SYLLABLES = ["ka", "lo", "mi", "te", "su", "ra", "no", "vi", "de", "po", "ba", "ze", "Ha", "Qi", "ST"]


def _word(rng) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3)))


def _spell(k: int) -> str:
    words = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
            "sixteen seventeen eighteen nineteen".split()
    return words[k]


def _make_code_item(rng, family: str) -> dict | None:
    name, args, desc, body, gen = CODE_FAMILIES[family](rng)
    sig = f"def {name}({', '.join(args)}):"
    ns: dict = {}
    exec(sig + "\n" + body, ns)  # our own canonical solution, not model output
    fn = ns[name]
    inputs, seen = [], set()
    for _ in range(30):
        a = gen()
        if repr(a) in seen:
            continue
        try:
            out = fn(*[list(x) if isinstance(x, list) else x for x in a])
        except (ValueError, IndexError):  # e.g. max([]) — not a valid example
            continue
        seen.add(repr(a))
        inputs.append((a, out))
        if len(inputs) == 5:
            break
    if len(inputs) < 3:
        return None
    call = lambda a: f"{name}({', '.join(repr(x) for x in a)})"  # noqa: E731
    # One worked example: it pins down the behaviour, and a second one mostly lengthened the prompt, which
    # put the signature out of small models' reach.
    ex = "".join(f"    >>> {call(a)}\n    {out!r}\n" for a, out in inputs[:1])
    prompt = f'{sig}\n    """{desc}\n\n{ex}    """\n'
    test = "def check(candidate):\n" + "".join(
        f"    assert candidate({', '.join(repr(x) for x in a)}) == {out!r}\n" for a, out in inputs)
    return {"prompt": prompt, "canonical_solution": body, "test": test, "entry_point": name,
            "family": family, "key": f"{sig} {desc}"}


def _code_stream(seed: int, family: str | None = None) -> Iterator[dict]:
    rng = random.Random(f"code/{seed}/{family or 'all'}")
    fams = list(CODE_FAMILIES)
    while True:
        item = _make_code_item(rng, family or rng.choice(fams))
        if item is not None:
            yield item


def code_tasks(split: str, n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct code tasks of one split in HumanEval format, balanced over the families.

    Deterministic in (split, n, seed). Families with few distinct keys (loops) contribute what they have.
    """
    _check_split(split)
    base = seed if split == "train" else 10_000 + seed
    streams = {f: _code_stream(base, f) for f in CODE_FAMILIES}
    per_family: dict[str, list[dict]] = {f: [] for f in CODE_FAMILIES}
    keys: set[str] = set()
    exhausted: set[str] = set()
    order = list(CODE_FAMILIES)
    total = 0
    while total < n:
        progressed = False
        for fam in order:
            if total == n:
                break
            if fam in exhausted:
                continue
            for _tries in range(3_000):  # a family with few distinct keys runs out
                item = next(streams[fam])
                if split_of(item["key"]) == split and item["key"] not in keys:
                    keys.add(item["key"])
                    per_family[fam].append({k: v for k, v in item.items() if k != "key"})
                    total += 1
                    progressed = True
                    break
            else:
                exhausted.add(fam)
        if not progressed:
            raise ValueError(f"only {total} distinct {split} code tasks exist; asked for {n}")
    out = [t for i in range(n) for fam in order for t in per_family[fam][i:i + 1]][:n]
    for i, t in enumerate(out):
        t["task_id"] = f"syn_code/{i}"
    return out


def code_document(task: dict) -> str:
    return task["prompt"] + task["canonical_solution"]


# ---- reasoning families ------------------------------------------------------------------------
_NAMES = ["Tom", "Ana", "Liam", "Mia", "Noah", "Emma", "Ravi", "Yuki", "Omar", "Sara", "Leo", "Ines", "Kofi",
          "Lena", "Ben", "Zoe", "Ivan", "Nora", "Sam", "Ada"]
_ITEMS = ["apples", "marbles", "stickers", "books", "pencils", "cookies", "cards", "shells", "coins", "eggs",
          "stamps", "flowers", "toys", "balloons", "candies", "rocks"]
REASON_PROMPT = "Question: {question}\nAnswer:"


def _reason_step(rng, name, item, q):
    """One operation on quantity q: (sentence, solution line, new q) or None if it would be invalid."""
    op = rng.choice(["add", "add", "sub", "sub", "mul", "div"])
    if op == "add":
        v = rng.randint(1, 12)
        verb = rng.choice(["buys", "finds", "gets", "is given", "wins"])
        return f"{name} {verb} {v} more {item}.", f"{q}+{v}", q + v
    if op == "sub":
        if q < 2:
            return None
        v = rng.randint(1, min(q - 1, 12))
        verb = rng.choice(["gives away", "loses", "uses", "sells", "eats" if item in ("apples", "cookies", "candies", "eggs") else "gives away"])
        return f"{name} {verb} {v} {item}.", f"{q}-{v}", q - v
    if op == "mul":
        if q > 15:
            return None
        v = rng.randint(2, 3)
        word = {2: "doubles", 3: "triples"}.get(v)
        sentence = f"{name} {word} the number of {item}." if word and rng.random() < 0.5 else \
            f"{name} ends up with {v} times as many {item}."
        return sentence, f"{q}*{v}", q * v
    divisors = [d for d in (2, 3, 4, 5) if q % d == 0 and q // d > 0]
    if not divisors:
        return None
    v = rng.choice(divisors)
    return f"{name} shares the {item} equally among {v} boxes and keeps one box.", f"{q}/{v}", q // v


def _make_reason_item(rng) -> dict:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    # Mostly one- and two-step problems with small numbers: a few-minute CPU model's errors are carries in
    # two-digit arithmetic, and the suite must stay informative (neither 0 nor saturated) at scale small.
    steps = rng.choices([1, 2, 3], weights=[5, 4, 1])[0]
    q = rng.randint(2, 20)
    sentences, lines = [f"{name} has {q} {item}."], []
    done = 0
    while done < steps:
        st = _reason_step(rng, name, item, q)
        if st is None:
            continue
        sentence, expr, new = st
        sentences.append(sentence)
        lines.append(f"{expr} = <<{expr}={new}>>{new}")
        q, done = new, done + 1
    question = " ".join(sentences) + f" How many {item} does {name} have now?"
    answer = "\n".join(lines) + f"\n#### {q}"
    return {"question": question, "answer": answer, "target": str(q), "family": f"steps{steps}",
            "steps": steps}


def reason_problems(split: str, n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct word problems with worked solutions ending in ``#### N`` (GSM8K format)."""
    _check_split(split)
    rng = random.Random(f"reason/{seed if split == 'train' else 10_000 + seed}")
    out, keys = [], set()
    while len(out) < n:
        p = _make_reason_item(rng)
        if split_of(p["question"]) != split or p["question"] in keys:
            continue
        keys.add(p["question"])
        p["task_id"] = f"syn_reason/{len(out)}"
        out.append(p)
    return out


def reason_document(p: dict) -> str:
    return REASON_PROMPT.format(question=p["question"]) + " " + p["answer"] + "\n\n"


# ---- multiple choice ---------------------------------------------------------------------------
def choice_items(split: str, n: int, seed: int = 0) -> list[dict]:
    """Log-likelihood multiple choice: pick the right function body, or the right arithmetic result.

    Code items: context = a task prompt, choices = its canonical body and three bodies of other tasks
    of the same family. Arithmetic items: context = a worked step up to ``=``, choices = four results.
    """
    _check_split(split)
    rng = random.Random(f"choice/{seed}/{split}")
    pool = code_tasks(split, max(4 * n, 40), seed=seed + 1)
    by_family: dict[str, list[dict]] = {}
    for t in pool:
        by_family.setdefault(t["family"], []).append(t)
    probs = reason_problems(split, n, seed=seed + 1)
    out = []
    for i in range(n):
        if i % 2 == 0:
            t = pool[i // 2]
            others = [o["canonical_solution"] for o in by_family[t["family"]]
                      if o["canonical_solution"] != t["canonical_solution"]]
            others = list(dict.fromkeys(others))
            if len(others) < 3:
                others += [o["canonical_solution"] for o in pool if o["canonical_solution"] not in others
                           and o["canonical_solution"] != t["canonical_solution"]][: 3 - len(others)]
            choices = [t["canonical_solution"]] + rng.sample(others, 3)
            context = t["prompt"]
        else:
            p = probs[i // 2]
            first = p["answer"].splitlines()[0]  # e.g. "12+5 = <<12+5=17>>17"
            expr, result = first.split(" = ")[0], int(p["answer"].splitlines()[0].rsplit(">>", 1)[1])
            wrong = set()
            while len(wrong) < 3:
                w = result + rng.choice([-10, -2, -1, 1, 2, 10])
                if w >= 0 and w != result:
                    wrong.add(w)
            context = REASON_PROMPT.format(question=p["question"]) + f" {expr} ="
            choices = [f" {result}"] + [f" {w}" for w in sorted(wrong)]
        order = list(range(4))
        rng.shuffle(order)
        out.append({"task_id": f"syn_choice/{i}", "context": context,
                    "choices": [choices[j] for j in order], "gold": order.index(0),
                    "family": "code" if i % 2 == 0 else "arith"})
    return out


# ---- training stream ---------------------------------------------------------------------------
def train_documents(kind: str, n: int, seed: int = 0) -> list[str]:
    """The first ``n`` training-split documents of one kind ("code" or "reason") at natural frequency.

    Unlike ``code_tasks("train", ...)`` this neither balances families nor removes repeated keys (the same
    function with other examples is a fine training document), so it is fast: ~20k documents a second.
    """
    if kind == "code":
        it = (code_document(t) for t in _code_stream(seed) if split_of(t["key"]) == "train")
    elif kind == "reason":
        rng = random.Random(f"reason/{seed}")
        it = (reason_document(p) for p in iter(lambda: _make_reason_item(rng), None)
              if split_of(p["question"]) == "train")
    else:
        raise ValueError(f"unknown document kind {kind!r}; valid: code, reason")
    return [next(it) for _ in range(n)]


def iter_train_documents(seed: int = 0, code_fraction: float = 0.5) -> Iterator[str]:
    """Endless training documents (train split only), code and word problems mixed."""
    rng = random.Random(f"mix/{seed}")
    code = _code_stream(seed)
    reason_rng = random.Random(f"reason/{seed}")
    while True:
        if rng.random() < code_fraction:
            item = next(code)
            if split_of(item["key"]) == "train":
                yield code_document(item)
        else:
            p = _make_reason_item(reason_rng)
            if split_of(p["question"]) == "train":
                yield reason_document(p)


def _check_split(split: str):
    if split not in ("train", "eval"):
        raise ValueError(f"unknown split {split!r}; valid: train, eval")
