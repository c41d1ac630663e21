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
(``sigmoid(x) = (1 + tanh(x / 2)) / 2``). The one-ensemble :meth:`GestureModel.step` keeps
every layer's h in one vector so that layer inputs and biases need no copies or additions
(:class:`_OneEnsemble`): each numpy call costs about a microsecond at this size.

The file format is documented in docs/model-format.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .config import TEMPERATURE_RANGE, check_temperature
from .gestures import NUM_GESTURES, decode_ensemble, parse_gesture

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TEMPERATURE_RANGE",
    "BatchedGestureModel",
    "GestureModel",
    "ModelFileError",
    "bundled_path",
    "load",
    "load_bundled",
]

FORMAT = "gesture-rnn-model"
FORMAT_VERSION = 1
METADATA_ATTRIBUTE = "gesture_rnn"

MODELS_DIR = Path(__file__).resolve().parent / "models"
BUNDLED = {4: "quartet.h5", 3: "trio.h5", 2: "duet.h5"}


class ModelFileError(Exception):
    """A model file that cannot be used: missing, damaged, not ours, or a wrong version."""


def bundled_path(ensemble: int = 4) -> Path:
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
    """Load an exported model file; no path gives the bundled quartet model."""
    path = bundled_path(4) if path is None else Path(path)
    weights, metadata = _read_file(path)
    return GestureModel(weights, metadata, path)


def _read_file(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    import h5py  # here, so that importing the runtime stays cheap

    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if path.is_dir():
        raise ModelFileError(f"model file {path} is a folder")
    if not h5py.is_hdf5(path):
        raise ModelFileError(f"{path} is not an HDF5 file (a Gesture-RNN model file is one)")
    try:
        with h5py.File(path, "r") as f:
            if METADATA_ATTRIBUTE not in f.attrs:
                raise ModelFileError(
                    f"{path} is an HDF5 file but not a Gesture-RNN model "
                    f"(no '{METADATA_ATTRIBUTE}' attribute)"
                )
            metadata = _parse_metadata(path, f.attrs[METADATA_ATTRIBUTE])
            names = _expected_shapes(path, metadata)
            weights = {}
            for name, shape in names.items():
                if name not in f:
                    raise ModelFileError(f"{path} lacks the weights dataset '{name}'")
                array = np.asarray(f[name][()], dtype=np.float32)
                if array.shape != shape:
                    raise ModelFileError(
                        f"{path}: dataset '{name}' has shape {array.shape}, expected {shape}"
                    )
                weights[name] = array
    except ModelFileError:
        raise
    except OSError as error:
        reason = str(error) or type(error).__name__
        raise ModelFileError(f"{path} is damaged or truncated: {reason}") from None
    except (KeyError, ValueError, TypeError, RuntimeError) as error:
        raise ModelFileError(f"{path} is damaged: {error}") from None
    for name, array in weights.items():
        if not np.isfinite(array).all():
            raise ModelFileError(f"{path}: dataset '{name}' holds NaN or infinite values")
    return weights, metadata


def _parse_metadata(path: Path, raw) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        metadata = json.loads(str(raw))
    except ValueError as error:
        raise ModelFileError(f"{path}: its metadata is not valid JSON ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a Gesture-RNN model file (format is not '{FORMAT}')")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this version of gesture-rnn "
            f"reads version {FORMAT_VERSION}"
        )
    return metadata


def _expected_shapes(path: Path, metadata: dict) -> dict[str, tuple[int, ...]]:
    """Dataset names and shapes that the metadata's architecture implies."""
    try:
        k = int(metadata["ensemble"])
        arch = metadata["architecture"]
        layers, units, width = int(arch["layers"]), int(arch["units"]), int(arch["embedding"])
        representation = arch["input"]
        cell = arch["cell"]
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: metadata lacks a valid {error} entry") from None
    if k not in BUNDLED or layers < 1 or units < 1 or width < 1 or cell != "lstm":
        raise ModelFileError(
            f"{path}: unsupported architecture (ensemble {k}, {layers} x {units} {cell})"
        )
    if representation == "joint":
        shapes = {"embedding": (NUM_GESTURES**k, width)}
        first = width
    elif representation == "players":
        shapes = {"embedding": (k, NUM_GESTURES, width)}
        first = k * width
    else:
        raise ModelFileError(f"{path}: unknown input representation {representation!r}")
    for i in range(layers):
        shapes[f"lstm_{i}/kernel"] = (first if i == 0 else units, 4 * units)
        shapes[f"lstm_{i}/recurrent_kernel"] = (units, 4 * units)
        shapes[f"lstm_{i}/bias"] = (4 * units,)
    shapes["output/kernel"] = (units, NUM_GESTURES ** (k - 1))
    shapes["output/bias"] = (NUM_GESTURES ** (k - 1),)
    if arch.get("stay", False):
        shapes["output/stay"] = (NUM_GESTURES ** (k - 1),)
    if arch.get("copy", False):
        shapes["output/copy"] = (k - 1, NUM_GESTURES)
    return shapes


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
        # |h| <= 1, so no logit can exceed this; below it exp() cannot overflow float32
        # even summed over every state, and the softmax can skip subtracting the max.
        bias = self._out_bias if self._bias_by_last is None else self._bias_by_last
        bound = np.abs(weights["output/kernel"]).sum(axis=0) + np.abs(bias).max(axis=0)
        self._safe_exp = bool(bound.max() < 80.0 - np.log(self.num_states))
        self._gate_scale = scale.astype(np.float32)
        self._gate_shift = (scale != 1.0).astype(np.float32) * np.float32(0.5)
        self._place = [NUM_GESTURES**i for i in range(self.ensemble)]
        self._one = _OneEnsemble(self)
        self._batch_buffers: dict[int, _Buffers] = {}

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
        return self._one.step(self.encode_input(lead, ensemble_before))

    def reset(self) -> None:
        """Forget the recurrent state: the next step starts a new performance."""
        self._one.reset()

    def sample(
        self,
        probabilities: np.ndarray,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> tuple[int, ...]:
        """Draw the others' next gestures (k-1 codes) from ``probabilities``.

        ``temperature`` in :data:`TEMPERATURE_RANGE` (0.05-5): the distribution becomes
        ``p ** (1 / temperature)``, renormalised; 1 samples the model as it is.
        """
        p = np.asarray(probabilities, dtype=np.float64)
        if p.shape != (self.num_states,):
            raise ValueError(f"probabilities must have shape ({self.num_states},), got {p.shape}")
        index = _draw(p[None, :], temperature, rng)[0]
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
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        np.sum(logits, axis=1, keepdims=True, out=b.total)
        logits /= b.total
        return logits


class _OneEnsemble:
    """The stateful one-ensemble step of :meth:`GestureModel.step`, in as few numpy calls
    as possible, since each costs most of a microsecond at this size.

    Every layer's h lives in one vector ``[h_0, .., h_{L-1}, 1]``, so that layer l's input
    ``[h_{l-1}; h_l]`` is a slice of it (no copies) and, for the last layer and the output,
    the trailing 1 picks up the bias as one more row of the kernel (no additions). Each
    layer's gates and cell sit in one buffer ``[i, f, o, g, c]``, so that ``[i, f] * [g, c]``
    is one multiplication and ``c = f * c + i * g`` one more addition.
    """

    def __init__(self, model: GestureModel):
        """Built from the model's own scaled, gate-reordered arrays."""
        u, layers = model.units, model.layers
        self.model = model
        self.hs = np.zeros(layers * u + 1, dtype=np.float32)
        self.hs[-1] = 1.0
        self.cells = np.zeros((layers, 5 * u), dtype=np.float32)  # [i, f, o, g, c] a layer
        self.products = np.empty(2 * u, dtype=np.float32)
        self.layer_ops = []
        for i in range(layers):
            if i == 0:
                inputs, kernel, bias = self.hs[:u], model._recurrent[0], None
            else:  # [h_{l-1}; h_l], and the 1 after the last layer's h
                last = i == layers - 1
                inputs = self.hs[(i - 1) * u : (i + 1) * u + int(last)]
                kernel, bias = model._stacked[i], model._biases[i]
                if last:  # the bias as one more row of the kernel
                    kernel, bias = np.vstack([kernel, bias[None, :]]), None
            buffer = self.cells[i]
            self.layer_ops.append(
                (
                    i == 0,
                    inputs,
                    kernel,
                    bias,
                    buffer[: 4 * u],  # z: the four gates' pre-activations
                    buffer[: 3 * u],  # the sigmoid gates i, f, o
                    buffer[: 2 * u],  # [i, f]
                    buffer[3 * u :],  # [g, c]
                    buffer[2 * u : 3 * u],  # o
                    buffer[4 * u :],  # c
                    self.hs[i * u : (i + 1) * u],  # h
                )
            )
        self.out_input = self.hs[(layers - 1) * u :]  # [h_{L-1}; 1]
        bias = model._out_bias
        if model._bias_by_last is not None:  # the bias row comes with the last state instead
            bias = np.zeros_like(bias)
        self.out_kernel = np.vstack([model._out_kernel, bias[None, :]])
        self.logits = np.empty(model.num_states, dtype=np.float32)
        self.ones = np.ones(model.num_states, dtype=np.float32)

    def reset(self) -> None:
        self.hs[:-1] = 0.0
        self.cells[...] = 0.0

    def step(self, code: int) -> np.ndarray:
        """Advance by one input code; the probabilities, a new array."""
        m = self.model
        products, u = self.products, m.units
        for first, inputs, kernel, bias, z, sigmoid, i_f, g_c, o, c, h in self.layer_ops:
            np.dot(inputs, kernel, out=z)
            if first:
                z += m._table[code]  # a row view: the input kernel and bias of this code
            elif bias is not None:
                z += bias
            np.tanh(z, out=z)
            sigmoid *= 0.5  # sigmoid = (1 + tanh) / 2 on the i, f, o gates only
            sigmoid += 0.5
            np.multiply(i_f, g_c, out=products)  # [i * g, f * c]
            np.add(products[:u], products[u:], out=c)
            np.tanh(c, out=h)
            h *= o
        logits = self.logits
        np.dot(self.out_input, self.out_kernel, out=logits)
        if m._bias_by_last is not None:
            logits += m._bias_by_last[code // NUM_GESTURES]
        if not m._safe_exp:
            logits -= logits.max()
        p = np.exp(logits)  # a new array: the caller keeps it, the buffers are reused
        p *= 1.0 / np.dot(p, self.ones)  # a BLAS dot sums faster than .sum()
        return p


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
    ) -> np.ndarray:
        """One draw per row: (n, k-1) gesture codes."""
        p = np.asarray(probabilities, dtype=np.float64)
        if p.shape != (self.n, self.model.num_states):
            raise ValueError(
                f"probabilities must have shape ({self.n}, {self.model.num_states}), got {p.shape}"
            )
        return decode_ensemble(_draw(p, temperature, rng), self.model.others)


def _draw(p: np.ndarray, temperature: float, rng: np.random.Generator | None) -> np.ndarray:
    """One index per row of ``p`` (rows of probabilities), at ``temperature``."""
    temperature = check_temperature(temperature)
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    peak = p.max(axis=1, keepdims=True)
    if (peak <= 0).any():
        raise ValueError("probabilities are all zero")
    # p ** (1/T), computed relative to the peak so that small T cannot underflow to all zeros
    weights = (p / peak) ** (1.0 / temperature)
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
