"""Run an exported Gesture-RNN model with numpy alone: no TensorFlow, no Keras.

>>> from gesture_rnn import runtime
>>> model = runtime.load()                      # the bundled quartet model
>>> p = model.step("FS", ["N", "ST", "N"])      # lead now, the 3 others one second before
>>> model.sample(p, temperature=0.8)            # the 3 others' next gestures
(0, 2, 0)

:class:`GestureModel` keeps its own recurrent state between :meth:`~GestureModel.step`
calls. For many independent ensembles at once there is a functional core,
:meth:`~GestureModel.initial_state` and :meth:`~GestureModel.step_codes`, and
:meth:`~GestureModel.batch` wraps it like ``step``.

Speed: at load the embedding is multiplied by the first layer's input kernel once for
every input code (there are only 9**k), so a step is a row lookup, the recurrent matrix
products and the output layer, in float32 on buffers allocated once. The sigmoid gates'
weights are pre-scaled by 1/2 so that one ``tanh`` over all four gates gives them all
(``sigmoid(x) = (1 + tanh(x / 2)) / 2``). One step serves every caller: the stateful
:meth:`GestureModel.step` is a batch of one.

The file format is defined in :mod:`gesture_rnn.model_format` (docs/model-format.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import model_format
from .bundled import MODEL_NAMES
from .config import LIVELINESS_RANGE, TEMPERATURE_RANGE, check_liveliness, check_temperature
from .gestures import NUM_GESTURES, decode_ensemble, parse_gesture
from .model_format import FORMAT, FORMAT_VERSION, ModelFileError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "LIVELINESS_RANGE",
    "TEMPERATURE_RANGE",
    "BatchedGestureModel",
    "GestureModel",
    "ModelFileError",
    "bundled_path",
    "check_liveliness",
    "load",
    "load_bundled",
    "sample_states",
]


MODELS_DIR = Path(__file__).resolve().parent / "models"
# The bundled files, by ensemble size (players, lead included): <name>.h5 for each name of
# bundled.MODEL_NAMES, the one table of them.
BUNDLED = {size: f"{name}.h5" for name, size in MODEL_NAMES.items()}


def bundled_path(ensemble: int = 4) -> Path:
    """The bundled model file for ``ensemble`` players; :class:`ModelFileError` if none."""
    if ensemble not in BUNDLED:
        raise ModelFileError(
            f"no bundled model for an ensemble of {ensemble}; "
            f"bundled sizes are {', '.join(map(str, sorted(BUNDLED)))}"
        )
    return MODELS_DIR / BUNDLED[ensemble]


def load_bundled(ensemble: int = 4) -> GestureModel:
    """The model shipped with the package for an ensemble of 4, 3 or 2 players."""
    return load(bundled_path(ensemble))


def load(path: str | Path | None = None) -> GestureModel:
    """Load an exported model file; no path gives the bundled quartet model.

    The file is checked as :func:`gesture_rnn.model_format.read` says (kind, version,
    shapes before any data is read, checksums, finite weights small enough that every step
    gives finite probabilities). Raises :class:`ModelFileError`, one line naming the file,
    for anything that cannot be used.
    """
    path = bundled_path(4) if path is None else Path(path)
    weights, metadata = model_format.read(path)
    return GestureModel(weights, metadata, path)


class _Buffers:
    """Scratch arrays for one batch size, allocated once and reused every step, with the
    views of the four gates made once too (making a view costs as much as a small op)."""

    def __init__(self, batch: int, units: int, outputs: int):
        u = units
        self.z = np.empty((batch, 4 * u), dtype=np.float32)
        self.gates = (  # input, forget, cell candidate, output (stored as i, f, o, g)
            self.z[:, :u],
            self.z[:, u : 2 * u],
            self.z[:, 3 * u :],
            self.z[:, 2 * u : 3 * u],
        )
        self.zr = np.empty((batch, 4 * u), dtype=np.float32)
        self.xh = np.empty((batch, 2 * u), dtype=np.float32)  # [input; h] of layers above 0
        self.xh_views = self.xh[:, :u], self.xh[:, u:]
        self.ig = np.empty((batch, u), dtype=np.float32)
        self.logits = np.empty((batch, outputs), dtype=np.float32)
        self.last = np.empty(batch, dtype=np.intp)
        self.total = np.empty((batch, 1), dtype=np.float32)


class GestureModel:
    """An exported model, run one second at a time.

    Attributes: ``ensemble`` (k, lead included), ``others`` (k-1), ``num_states``
    (9**(k-1), the length of every probability vector), ``metadata`` (the file's JSON),
    ``path``. One instance reuses scratch buffers: step it from one thread at a time.
    """

    def __init__(self, weights: dict[str, np.ndarray], metadata: dict, path: Path | None = None):
        arch = metadata["architecture"]
        self.metadata = metadata
        self.path = path
        self.ensemble = int(metadata["ensemble"])
        self.others = self.ensemble - 1
        self.num_states = NUM_GESTURES**self.others
        self.num_inputs = NUM_GESTURES**self.ensemble
        self.layers = int(arch["layers"])
        self.units = int(arch["units"])
        u = self.units
        weights = _sigmoid_gates_first(weights, self.layers, u)
        # Halve the sigmoid gates' (input, forget, output) pre-activations; see module doc.
        scale = np.full(4 * u, 0.5, dtype=np.float64)
        scale[3 * u :] = 1.0
        self._table = (
            (_input_projection(weights, arch["input"], self.ensemble) + weights["lstm_0/bias"])
            * scale
        ).astype(np.float32)
        # Layers above the first multiply [input; h] by [kernel; recurrent kernel] at once.
        self._stacked = [None] + [
            np.ascontiguousarray(
                np.vstack([weights[f"lstm_{i}/kernel"], weights[f"lstm_{i}/recurrent_kernel"]])
                * scale,
                dtype=np.float32,
            )
            for i in range(1, self.layers)
        ]
        self._biases = [None] + [
            (weights[f"lstm_{i}/bias"] * scale).astype(np.float32) for i in range(1, self.layers)
        ]
        self._recurrent = [
            np.ascontiguousarray(weights[f"lstm_{i}/recurrent_kernel"] * scale, dtype=np.float32)
            for i in range(self.layers)
        ]
        self._out_kernel = np.ascontiguousarray(weights["output/kernel"], dtype=np.float32)
        self._out_bias = np.ascontiguousarray(weights["output/bias"], dtype=np.float32)
        # The stay and copy logits depend only on the others' last state (code // 9): with
        # the output bias they make one bias row per last state, or None without them.
        self._bias_by_last = _bias_by_last(weights, self.others)
        # |h| <= 1, so no logit can exceed this bound; below it exp() cannot overflow
        # float32 even summed over every state, and the softmax need not subtract the max.
        bias = self._out_bias if self._bias_by_last is None else self._bias_by_last
        bound = np.abs(weights["output/kernel"]).sum(axis=0) + np.abs(bias).max(axis=0)
        self._safe_exp = bool(bound.max() < 80.0 - np.log(self.num_states))
        self._ones = np.ones(self.num_states, dtype=np.float32)
        self._gate_scale = scale.astype(np.float32)
        self._gate_shift = (scale != 1.0).astype(np.float32) * np.float32(0.5)
        self._place = [NUM_GESTURES**i for i in range(self.ensemble)]
        self._batch_buffers: dict[int, _Buffers] = {}
        # The stateful step's own state and scratch: a batch of one.
        self._state = self.initial_state(1)
        self._state_views = [(self._state[i, 0], self._state[i, 1]) for i in range(self.layers)]
        self._step_buffers = _Buffers(1, self.units, self.num_states)
        self._step_code = np.zeros(1, dtype=np.intp)

    def __repr__(self) -> str:
        return (
            f"GestureModel(ensemble={self.ensemble}, {self.layers} x {self.units} LSTM, "
            f"input={self.metadata['architecture']['input']!r}, path={str(self.path)!r})"
        )

    # -- the functional core ------------------------------------------------------------

    def initial_state(self, batch: int) -> np.ndarray:
        """Zero recurrent state for ``batch`` ensembles: (layers, 2, batch, units), h then c."""
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        return np.zeros((self.layers, 2, batch, self.units), dtype=np.float32)

    def step_codes(self, codes: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step for a batch: input codes (batch,) and state -> (probabilities, new state).

        ``probabilities`` is (batch, 9**(k-1)), each row summing to 1; ``state`` is not
        changed.
        """
        codes = self._check_codes(codes)
        state = np.asarray(state)
        expected = (self.layers, 2, len(codes), self.units)
        if state.shape != expected:
            raise ValueError(f"state has shape {state.shape}, expected {expected}")
        new_state = state.astype(np.float32, copy=True)
        buffers = self._batch_buffers.get(len(codes))
        if buffers is None:  # scratch for this batch size, kept for the next call
            buffers = self._batch_buffers[len(codes)] = _Buffers(
                len(codes), self.units, self.num_states
            )
        hc = [(new_state[i, 0], new_state[i, 1]) for i in range(self.layers)]
        probabilities = self._advance(codes, hc, buffers).copy()
        return probabilities, new_state

    def encode_input(self, lead, ensemble_before: Sequence) -> int:
        """The input code of the lead's gesture now and the others' gestures before."""
        if type(ensemble_before) is list and len(ensemble_before) == self.others:
            before = ensemble_before  # the hot path: no copy
        else:
            before = list(ensemble_before) if not isinstance(ensemble_before, str) else None
        if before is None or len(before) != self.others:
            raise ValueError(
                f"ensemble_before must be {self.others} gestures (one per other player), "
                f"got {ensemble_before!r}"
            )
        code = parse_gesture(lead)
        for place, gesture in zip(self._place[1:], before, strict=True):
            code += place * parse_gesture(gesture)
        return code

    # -- one ensemble, stateful -----------------------------------------------------------

    def step(self, lead, ensemble_before: Sequence) -> np.ndarray:
        """Probabilities (9**(k-1),) of the others' next joint state; index = its encoding.

        ``lead``: the lead's gesture now; ``ensemble_before``: the k-1 others' gestures
        one step before (anything :func:`~gesture_rnn.gestures.parse_gesture` accepts).
        """
        self._step_code[0] = self.encode_input(lead, ensemble_before)
        return self._advance(self._step_code, self._state_views, self._step_buffers)[0].copy()

    def reset(self) -> None:
        """Forget the recurrent state: the next step starts a new performance."""
        self._state[...] = 0.0

    def sample(
        self,
        probabilities: np.ndarray,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        liveliness: float = 1.0,
        before: Sequence | None = None,
    ) -> tuple[int, ...]:
        """Draw the others' next gestures (k-1 codes) from ``probabilities``.

        ``temperature`` in :data:`TEMPERATURE_RANGE` (0.05-5): the distribution becomes
        ``p ** (1 / temperature)``, renormalised; 1 samples the model as it is.
        ``liveliness`` in :data:`LIVELINESS_RANGE` reweights how often the others change
        gesture from ``before`` (their k-1 gestures a step before, needed unless it is 1);
        the formula is :func:`sample_states`'s.
        """
        p = np.asarray(probabilities, dtype=np.float64)
        if p.shape != (self.num_states,):
            raise ValueError(f"probabilities must have shape ({self.num_states},), got {p.shape}")
        last = None
        if before is not None and liveliness != 1:
            last = np.array([self.encode_input(0, before) // NUM_GESTURES])
        index = sample_states(p[None, :], temperature, rng, liveliness, last)[0]
        return decode_ensemble(int(index), self.others)

    def batch(self, n: int) -> BatchedGestureModel:
        """A stateful view running ``n`` independent ensembles in step."""
        return BatchedGestureModel(self, n)

    # -- internals ------------------------------------------------------------------------

    def _check_codes(self, codes) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise ValueError(f"codes must be a 1-D integer array, got {codes.dtype} {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.num_inputs):
            raise ValueError(f"input codes must be in 0..{self.num_inputs - 1}")
        if codes.size == 0:
            raise ValueError("codes is empty: a step needs at least one ensemble")
        return codes.astype(np.intp, copy=False)

    def _advance(self, codes: np.ndarray, hc: list, b: _Buffers) -> np.ndarray:
        """Advance the (h, c) of each layer in place by one step; return the probabilities,
        in ``b.logits``."""
        z, zr, ig = b.z, b.zr, b.ig
        gate_i, gate_f, candidate, gate_o = b.gates
        x = None
        for i, (h, c) in enumerate(hc):
            if i == 0:
                np.dot(h, self._recurrent[0], out=z)
                np.take(self._table, codes, axis=0, out=zr)
                z += zr
            else:
                below, mine = b.xh_views
                np.copyto(below, x)
                np.copyto(mine, h)
                np.dot(b.xh, self._stacked[i], out=z)
                z += self._biases[i]
            np.tanh(z, out=z)
            z *= self._gate_scale  # sigmoid = (1 + tanh) / 2 on the i, f, o gates only
            z += self._gate_shift
            np.multiply(gate_i, candidate, out=ig)
            c *= gate_f
            c += ig
            np.tanh(c, out=h)
            h *= gate_o
            x = h
        logits = b.logits
        np.dot(x, self._out_kernel, out=logits)
        if self._bias_by_last is None:
            logits += self._out_bias
        else:
            np.floor_divide(codes, NUM_GESTURES, out=b.last)  # the others' last state
            logits += self._bias_by_last[b.last]
        if not self._safe_exp:
            logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        np.dot(logits, self._ones, out=b.total[:, 0])  # a BLAS dot sums faster than .sum()
        logits /= b.total
        return logits


class BatchedGestureModel:
    """``n`` independent ensembles stepped together, each like :meth:`GestureModel.step`."""

    def __init__(self, model: GestureModel, n: int):
        self.model = model
        self.n = n
        self.state = model.initial_state(n)
        self._buffers = _Buffers(n, model.units, model.num_states)

    def step(self, leads: Sequence, ensembles_before: Sequence) -> np.ndarray:
        """Probabilities (n, 9**(k-1)) for ``n`` leads and ``n`` lists of k-1 gestures."""
        if len(leads) != self.n or len(ensembles_before) != self.n:
            raise ValueError(
                f"expected {self.n} leads and {self.n} ensembles, "
                f"got {len(leads)} and {len(ensembles_before)}"
            )
        codes = np.array(
            [
                self.model.encode_input(lead, before)
                for lead, before in zip(leads, ensembles_before, strict=True)
            ],
            dtype=np.intp,
        )
        hc = [(self.state[i, 0], self.state[i, 1]) for i in range(self.model.layers)]
        return self.model._advance(codes, hc, self._buffers).copy()

    def reset(self) -> None:
        self.state[...] = 0.0

    def sample(
        self,
        probabilities: np.ndarray,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        liveliness: float = 1.0,
        ensembles_before: Sequence | None = None,
    ) -> np.ndarray:
        """One draw per row: (n, k-1) gesture codes (liveliness: see :func:`sample_states`)."""
        p = np.asarray(probabilities, dtype=np.float64)
        if p.shape != (self.n, self.model.num_states):
            raise ValueError(
                f"probabilities must have shape ({self.n}, {self.model.num_states}), got {p.shape}"
            )
        last = None
        if ensembles_before is not None:
            encode = self.model.encode_input
            last = np.array([encode(0, b) // NUM_GESTURES for b in ensembles_before])
        return decode_ensemble(
            sample_states(p, temperature, rng, liveliness, last), self.model.others
        )


@functools.cache
def _digits(others: int) -> np.ndarray:
    """Every state of ``others`` players as gestures: (9**others, others) int8."""
    return decode_ensemble(np.arange(NUM_GESTURES**others), others).astype(np.int8)


def sample_states(
    p: np.ndarray,
    temperature: float = 1.0,
    rng: np.random.Generator | None = None,
    liveliness: float = 1.0,
    last: np.ndarray | None = None,
) -> np.ndarray:
    """One state index per row of ``p`` (n, 9**m): probabilities of m players' next state.

    The state is drawn with weights ``p(s) ** (1 / temperature) * liveliness ** c(s)``,
    where ``c(s)`` counts the players whose gesture in ``s`` differs from their gesture
    in ``last`` (n,) (the state a step before; needed unless ``liveliness`` is 1). Were
    the players independent given the past, this would multiply each player's odds of
    changing gesture by ``liveliness``, after the temperature: 0 keeps every player's
    gesture, 1 samples at the temperature alone, 2 doubles the odds of a change. It acts
    most where the model hesitates, as at a lead's entry after a silence. Raises
    ValueError for a temperature or liveliness out of range or bad probabilities.
    """
    temperature = check_temperature(temperature)
    liveliness = check_liveliness(liveliness)
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    peak = p.max(axis=1, keepdims=True)
    if (peak <= 0).any():
        raise ValueError("probabilities are all zero")
    # p ** (1/T), computed relative to the peak so that small T cannot underflow to all zeros
    weights = (p / peak) ** (1.0 / temperature)
    if liveliness != 1.0:
        if last is None:
            raise ValueError("a liveliness other than 1 needs the state a step before")
        others = round(math.log(p.shape[1], NUM_GESTURES))
        digits = _digits(others)
        changes = (digits[None, :, :] != digits[np.asarray(last)][:, None, :]).sum(axis=2)
        weights = weights * np.float64(liveliness) ** changes  # 0 ** 0 = 1: keeping stays
        stuck = weights.sum(axis=1) <= 0  # the last state had underflowed: keep it
        if stuck.any():
            weights[stuck, np.asarray(last)[stuck]] = 1.0
    cumulative = np.cumsum(weights, axis=1)
    rng = rng if rng is not None else np.random.default_rng()
    u = rng.random(len(p)) * cumulative[:, -1]
    index = (cumulative < u[:, None]).sum(axis=1)
    return np.minimum(index, p.shape[1] - 1)


def _sigmoid_gates_first(weights: dict[str, np.ndarray], layers: int, units: int) -> dict:
    """The weights with each LSTM layer's gate columns reordered from Keras's (i, f, g, o)
    to (i, f, o, g), so that the three sigmoid gates are one slice."""
    u = units
    order = np.r_[0 : 2 * u, 3 * u : 4 * u, 2 * u : 3 * u]
    reordered = dict(weights)
    for i in range(layers):
        for name in ("kernel", "recurrent_kernel", "bias"):
            key = f"lstm_{i}/{name}"
            reordered[key] = weights[key][..., order]
    return reordered


def _bias_by_last(weights: dict[str, np.ndarray], others: int) -> np.ndarray | None:
    """Output bias plus the stay and copy logits, a row per last state: (S, S) or None."""
    stay, copy = weights.get("output/stay"), weights.get("output/copy")
    if stay is None and copy is None:
        return None
    states = NUM_GESTURES**others
    table = np.tile(weights["output/bias"].astype(np.float64), (states, 1))
    if stay is not None:
        table[np.arange(states), np.arange(states)] += stay
    if copy is not None:
        digits = (np.arange(states)[:, None] // NUM_GESTURES ** np.arange(others)) % NUM_GESTURES
        for i in range(others):  # last state a, next state s: + copy[i, a_i] if s_i == a_i
            keeps = digits[:, None, i] == digits[None, :, i]
            table += np.where(keeps, copy[i][digits[:, i]][:, None], 0.0)
    return table.astype(np.float32)


def _input_projection(weights: dict[str, np.ndarray], representation: str, k: int) -> np.ndarray:
    """Embedding times the first input kernel for every input code: (9**k, 4 * units)."""
    kernel = weights["lstm_0/kernel"].astype(np.float64)
    table = weights["embedding"].astype(np.float64)
    if representation == "joint":
        return table @ kernel
    width = table.shape[2]
    # Player p's contribution for each of its 9 gestures; the code's digits pick one each.
    parts = [table[p] @ kernel[p * width : (p + 1) * width] for p in range(k)]
    total = np.zeros((NUM_GESTURES,) * k + (kernel.shape[1],))
    for p, part in enumerate(parts):
        shape = [1] * k + [kernel.shape[1]]
        shape[k - 1 - p] = NUM_GESTURES  # player 0 is the last (least significant) axis
        total += part.reshape(shape)
    return total.reshape(NUM_GESTURES**k, kernel.shape[1])
