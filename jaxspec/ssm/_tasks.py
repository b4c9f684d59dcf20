"""Offline, seeded sequence tasks. Every generator returns a `Task` of numpy arrays.

Token tasks reserve token 0 for padding; sequences of different lengths are right-padded and
`lengths` marks the valid prefix. Targets: one class per sequence (`per_step=False`) or one
per position (`per_step=True`, with `mask` marking the positions that count).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Task:
    """inputs (n, L) ints or (n, L, d) floats; targets (n,) or (n, L) ints, or floats for
    regression; lengths (n,); mask (n, L) for per-step targets."""

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray
    mask: np.ndarray | None
    num_outputs: int
    vocab_size: int | None = None
    input_dim: int | None = None
    regression: bool = False

    @property
    def per_step(self) -> bool:
        return self.targets.ndim == 2 + int(self.regression)

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, idx) -> Task:
        return dataclasses.replace(
            self,
            inputs=self.inputs[idx],
            targets=self.targets[idx],
            lengths=self.lengths[idx],
            mask=None if self.mask is None else self.mask[idx],
        )


def _check(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"`{name}` must be a positive int, got {n!r}.")
    return int(n)


def _lengths(rng, n, min_len, max_len):
    if not 1 <= min_len <= max_len:
        raise ValueError(f"Need 1 <= min_len <= max_len, got {min_len}, {max_len}.")
    return rng.integers(min_len, max_len + 1, size=n)


def parity(n: int, *, min_len: int = 3, max_len: int = 40, seed: int = 0) -> Task:
    """Bits 0/1 (tokens 1/2); per-step target: parity of the prefix. Padded with 0."""
    n = _check(n)
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n, min_len, max_len)
    bits = rng.integers(0, 2, size=(n, max_len))
    mask = np.arange(max_len)[None, :] < lengths[:, None]
    bits = bits * mask
    targets = np.cumsum(bits, axis=1) % 2
    return Task("parity", (bits + 1) * mask, targets * mask, lengths, mask, 2, vocab_size=3)


def modular_arithmetic(
    n: int,
    *,
    modulus: int = 5,
    min_len: int = 3,
    max_len: int = 40,
    brackets: bool = False,
    seed: int = 0,
) -> Task:
    """Expressions over Z_m with +, -, * (and brackets when `brackets=True`), evaluated mod m;
    target: the value (one class per sequence). Tokens: 1..m digits, then + - * ( )."""
    n = _check(n)
    rng = np.random.default_rng(seed)
    plus, minus, times, lpar, rpar = modulus + 1, modulus + 2, modulus + 3, modulus + 4, modulus + 5
    ops = (plus, minus, times)

    def expr(budget):
        # returns (tokens, value); budget = max tokens
        if budget < 3 or rng.random() < 0.25:
            d = int(rng.integers(modulus))
            return [d + 1], d
        if brackets and budget >= 5 and rng.random() < 0.3:
            toks, _ = expr(budget - 2)
            return [lpar, *toks, rpar], None
        left_budget = int(rng.integers(1, budget - 1))
        lt, _ = expr(left_budget)
        op = int(rng.choice(ops))
        rt, _ = expr(budget - 1 - len(lt))
        return [*lt, op, *rt], None

    seqs, vals = [], []
    while len(seqs) < n:
        target_len = int(rng.integers(min_len, max_len + 1))
        toks, _ = expr(target_len)
        v = _evaluate(toks, modulus)  # the value of the string as written (precedence)
        if min_len <= len(toks) <= max_len:
            seqs.append(toks)
            vals.append(v % modulus)
    lengths = np.array([len(s) for s in seqs])
    inputs = np.zeros((n, max_len), np.int64)
    for i, s in enumerate(seqs):
        inputs[i, : len(s)] = s
    name = "modular_arithmetic_brackets" if brackets else "modular_arithmetic"
    return Task(name, inputs, np.array(vals), lengths, None, modulus, vocab_size=modulus + 6)


def _evaluate(toks, m):
    """Evaluate digits, + - * and brackets with the usual precedence, mod m (recursive
    descent over the token list)."""
    plus, minus, times, lpar = m + 1, m + 2, m + 3, m + 4
    pos = 0

    def atom():
        nonlocal pos
        t = toks[pos]
        pos += 1
        if t == lpar:
            v = add()
            pos += 1  # the closing bracket
            return v
        return t - 1

    def mul():
        nonlocal pos
        v = atom()
        while pos < len(toks) and toks[pos] == times:
            pos += 1
            v = v * atom() % m
        return v

    def add():
        nonlocal pos
        v = mul()
        while pos < len(toks) and toks[pos] in (plus, minus):
            op = toks[pos]
            pos += 1
            v = (v + mul()) % m if op == plus else (v - mul()) % m
        return v

    return add() % m


def selective_copying(
    n: int, *, seq_len: int = 64, num_tokens: int = 8, vocab: int = 10, seed: int = 0
) -> Task:
    """`num_tokens` data tokens scattered among noise (token 1) in the first `seq_len`
    positions, a marker (token 2), then `num_tokens` blanks where the model must output the
    data tokens in order (per-step targets on those positions)."""
    n = _check(n)
    rng = np.random.default_rng(seed)
    total = seq_len + 1 + num_tokens
    inputs = np.ones((n, total), np.int64)
    targets = np.zeros((n, total), np.int64)
    data = rng.integers(0, vocab, size=(n, num_tokens))
    for i in range(n):
        pos = np.sort(rng.choice(seq_len, size=num_tokens, replace=False))
        inputs[i, pos] = data[i] + 3
    inputs[:, seq_len] = 2
    inputs[:, seq_len + 1 :] = 1
    targets[:, seq_len + 1 :] = data
    mask = np.zeros((n, total), bool)
    mask[:, seq_len + 1 :] = True
    return Task(
        "selective_copying", inputs, targets, np.full(n, total), mask, vocab, vocab_size=vocab + 3
    )


def induction_heads(n: int, *, seq_len: int = 64, vocab: int = 16, seed: int = 0) -> Task:
    """Random tokens with a trigger (token 1) placed once followed by a value; the sequence
    ends with the trigger again and the target is that value."""
    n = _check(n)
    rng = np.random.default_rng(seed)
    inputs = rng.integers(2, vocab + 2, size=(n, seq_len))
    values = rng.integers(0, vocab, size=n)
    pos = rng.integers(0, seq_len - 2, size=n)
    inputs[np.arange(n), pos] = 1
    inputs[np.arange(n), pos + 1] = values + 2
    inputs[:, -1] = 1
    return Task(
        "induction_heads", inputs, values, np.full(n, seq_len), None, vocab, vocab_size=vocab + 2
    )


def associative_recall(
    n: int, *, num_pairs: int = 8, num_keys: int = 16, num_values: int = 16, seed: int = 0
) -> Task:
    """`k1 v1 k2 v2 ... kq`: distinct keys with values, then a query key; target its value.
    Keys are tokens 1..num_keys, values num_keys+1..num_keys+num_values."""
    n = _check(n)
    if num_pairs > num_keys:
        raise ValueError(f"`num_pairs` ({num_pairs}) must be <= `num_keys` ({num_keys}).")
    rng = np.random.default_rng(seed)
    length = 2 * num_pairs + 1
    inputs = np.zeros((n, length), np.int64)
    targets = np.zeros(n, np.int64)
    for i in range(n):
        keys = rng.choice(num_keys, size=num_pairs, replace=False)
        vals = rng.integers(0, num_values, size=num_pairs)
        inputs[i, 0:-1:2] = keys + 1
        inputs[i, 1:-1:2] = vals + num_keys + 1
        q = rng.integers(num_pairs)
        inputs[i, -1] = keys[q] + 1
        targets[i] = vals[q]
    return Task(
        "associative_recall",
        inputs,
        targets,
        np.full(n, length),
        None,
        num_values,
        vocab_size=num_keys + num_values + 1,
    )


def lds(
    n: int,
    *,
    seq_len: int = 256,
    state_dim: int = 16,
    input_dim: int = 2,
    output_dim: int = 2,
    spectrum: str = "near_unit",
    noise: float = 0.0,
    seed: int = 0,
) -> Task:
    """Predict the output of a random linear dynamical system `x_t = A x_{t-1} + B u_t`,
    `y_t = C x_t + D u_t` driven by Gaussian inputs (per-step regression).

    spectrum: "diagonal" (eigenvalues uniform in [0, 0.9]), "near_unit" (symmetric, in
    [0.9, 0.9999], long memory), "rotation" (asymmetric: 2x2 rotation blocks with radius in
    [0.9, 0.999]), "mixed" (a random orthogonal change of basis of "near_unit").
    """
    n = _check(n)
    rng = np.random.default_rng(seed)
    if spectrum == "diagonal":
        a = np.diag(rng.uniform(0, 0.9, state_dim))
    elif spectrum in ("near_unit", "mixed"):
        a = np.diag(1 - 10 ** rng.uniform(-4, -1, state_dim))
        if spectrum == "mixed":
            q, _ = np.linalg.qr(rng.standard_normal((state_dim, state_dim)))
            a = q @ a @ q.T
    elif spectrum == "rotation":
        a = np.zeros((state_dim, state_dim))
        for i in range(0, state_dim - 1, 2):
            r, th = rng.uniform(0.9, 0.999), rng.uniform(0, np.pi)
            a[i : i + 2, i : i + 2] = r * np.array(
                [[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]
            )
        if state_dim % 2:
            a[-1, -1] = 0.95
    else:
        raise ValueError(
            f"`spectrum` must be 'diagonal', 'near_unit', 'rotation' or 'mixed', got {spectrum!r}."
        )
    b = rng.standard_normal((state_dim, input_dim)) / np.sqrt(input_dim)
    c = rng.standard_normal((output_dim, state_dim)) / np.sqrt(state_dim)
    d = rng.standard_normal((output_dim, input_dim)) / np.sqrt(input_dim)
    u = rng.standard_normal((n, seq_len, input_dim))
    x = np.zeros((n, state_dim))
    ys = np.empty((n, seq_len, output_dim))
    for t in range(seq_len):
        x = x @ a.T + u[:, t] @ b.T
        ys[:, t] = x @ c.T + u[:, t] @ d.T
    ys /= ys.std()
    ys += noise * rng.standard_normal(ys.shape)
    return Task(
        f"lds_{spectrum}",
        u,
        ys,
        np.full(n, seq_len),
        np.ones((n, seq_len), bool),
        output_dim,
        input_dim=input_dim,
        regression=True,
    )


def sequential_digits(*, test_fraction: float = 0.2, seed: int = 0) -> tuple[Task, Task]:
    """scikit-learn's bundled 8x8 digits (1,797 images) as length-64 pixel sequences in
    [0, 1]; a seeded stratified train/test split. Needs scikit-learn (no download)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover
        raise ImportError("`sequential_digits` needs scikit-learn: pip install scikit-learn") from e
    data = load_digits()
    x = (data.images.reshape(-1, 64, 1) / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in range(10):
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, size=round(test_fraction * len(idx)), replace=False)] = True
    full = Task("sequential_digits", x, y, np.full(len(y), 64), None, 10, input_dim=1)
    return full.subset(np.flatnonzero(~test)), full.subset(np.flatnonzero(test))


def shift_digits(rng: np.random.Generator, x: np.ndarray, max_shift: int = 1) -> np.ndarray:
    """Augmentation for `sequential_digits` batches (B, 64, 1): translate each 8x8 image by a
    random offset in [-max_shift, max_shift]^2 with zero fill."""
    b = x.shape[0]
    img = x.reshape(b, 8, 8)
    out = np.zeros_like(img)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(b, 2))
    for i, (dy, dx) in enumerate(shifts):
        src = img[i, max(0, -dy) : 8 - max(0, dy), max(0, -dx) : 8 - max(0, dx)]
        out[i, max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out.reshape(x.shape)


_LISTOPS = ("MAX", "MIN", "MED", "SM")


def listops(
    n: int, *, max_depth: int = 4, max_args: int = 5, max_len: int = 128, seed: int = 0
) -> Task:
    """Seeded ListOps (Nangia & Bowman): nested `[MAX 2 9 [MIN 4 7 ] 0 ]` expressions over
    digits with MAX, MIN, MED (median, rounded down) and SM (sum mod 10); target the value.
    Tokens: 1-10 digits, 11-14 operators, 15 `]`."""
    n = _check(n)
    rng = np.random.default_rng(seed)

    def gen(depth):
        if depth >= max_depth or (depth > 0 and rng.random() < 0.3):
            d = int(rng.integers(10))
            return [d + 1], d
        op = int(rng.integers(len(_LISTOPS)))
        toks, vals = [11 + op], []
        for _ in range(int(rng.integers(2, max_args + 1))):
            t, v = gen(depth + 1)
            toks += t
            vals.append(v)
        toks.append(15)
        name = _LISTOPS[op]
        if name == "MAX":
            v = max(vals)
        elif name == "MIN":
            v = min(vals)
        elif name == "MED":
            v = int(np.sort(vals)[(len(vals) - 1) // 2])
        else:
            v = sum(vals) % 10
        return toks, v

    seqs, vals = [], []
    while len(seqs) < n:
        toks, v = gen(0)
        if len(toks) <= max_len:
            seqs.append(toks)
            vals.append(v)
    lengths = np.array([len(s) for s in seqs])
    inputs = np.zeros((n, max_len), np.int64)
    for i, s in enumerate(seqs):
        inputs[i, : len(s)] = s
    return Task("listops", inputs, np.array(vals), lengths, None, 10, vocab_size=16)
