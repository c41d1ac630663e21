"""Step latency of the numpy runtime against Keras and LiteRT on the same weights.

One step = one input code in, the probabilities of the others' next state out, with the
recurrent state carried to the next step: what the bridge does once a second.

- numpy: ``GestureModel.step`` (gesture_rnn.runtime), parsing the gestures included, on
  one BLAS thread (threadpoolctl) as the bridge runs it;
- Keras: the same network built stateful with batch 1 (gesture_rnn.model.build_model)
  holding the file's weights, called through a ``tf.function`` (softmax included): the
  fastest plain way to step a Keras model;
- LiteRT: the same network as a one-step TFLite model with the state as explicit inputs
  and outputs, run by ``ai_edge_litert.interpreter.Interpreter`` (pip install
  ai-edge-litert) on one thread, state copied back in each step.

The three take turns: ``--rounds`` rounds (default 5), each running every implementation
over its share of the steps (the recurrent state carried on across rounds), so that a
change in the machine's load falls on all three alike; the percentiles pool the rounds.
All three are checked to give the same probabilities. Then, in a fresh process,
the time to import ``gesture_rnn.runtime`` and load the model, with a check that
TensorFlow was never imported.

Run from the repository root:  .venv/bin/python bench/runtime.py [--model PATH] [--steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gesture_rnn import runtime
from gesture_rnn.evaluate import single_threaded_blas
from gesture_rnn.gestures import NUM_GESTURES, decode_ensemble


def percentiles(ns: list[int]) -> dict:
    us = np.array(ns) / 1000.0
    return {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99))}


class Runner:
    """One implementation's stepping: ``run(codes)`` steps them, timing each step."""

    def __init__(self, step, reset):
        self.step, self.reset = step, reset
        self.times: list[int] = []
        self.outputs: list[np.ndarray] = []

    def run(self, codes, measure: bool = True) -> None:
        for code in codes:
            start = time.perf_counter_ns()
            p = self.step(code)
            elapsed = time.perf_counter_ns() - start
            if measure:
                self.times.append(elapsed)
                self.outputs.append(np.asarray(p, dtype=np.float64).reshape(-1))


def numpy_runner(model: runtime.GestureModel) -> Runner:
    """``GestureModel.step``, gesture parsing included (the codes are split back into the
    lead's gesture and the others' list, as a caller has them)."""
    others = [NUM_GESTURES ** (i + 1) for i in range(model.others)]

    def step(code):
        return model.step(code % NUM_GESTURES, [(code // d) % NUM_GESTURES for d in others])

    return Runner(step, model.reset)


def keras_weights(model: runtime.GestureModel):
    import h5py

    with h5py.File(model.path, "r") as f:
        return {name: f[name][()] for name in _dataset_names(f)}


def _dataset_names(f) -> list[str]:
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if hasattr(obj, "shape") else None)
    return names


def set_keras_weights(keras_model, weights: dict, layers: int) -> None:
    table = weights["embedding"]
    keras_model.get_layer("embedding").set_weights([table.reshape(-1, table.shape[-1])])
    for i in range(layers):
        keras_model.get_layer(f"lstm_{i}").set_weights(
            [weights[f"lstm_{i}/{n}"] for n in ("kernel", "recurrent_kernel", "bias")]
        )
    keras_model.get_layer("output").set_weights([weights["output/kernel"], weights["output/bias"]])
    for name in ("stay", "copy"):
        if f"output/{name}" in weights:
            keras_model.get_layer(name).set_weights([weights[f"output/{name}"]])


def keras_runner(model: runtime.GestureModel) -> Runner:
    import tensorflow as tf

    from gesture_rnn.config import ModelConfig
    from gesture_rnn.model import build_model

    config = ModelConfig.from_dict(model.metadata["config"])
    net = build_model(config, batch_size=1, stateful=True)
    set_keras_weights(net, keras_weights(model), config.layers)
    call = tf.function(lambda x: tf.nn.softmax(net(x, training=False)))

    def reset():
        for layer in net.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    def step(code):
        return call(tf.constant([[code]], dtype=tf.int32)).numpy()[0, 0]

    return Runner(step, reset)


def litert_runner(model: runtime.GestureModel) -> tuple[Runner, int]:
    import keras
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from keras import layers

    from gesture_rnn.config import ModelConfig
    from gesture_rnn.model import CopyLogit, PlayerGestures, StayLogit

    config = ModelConfig.from_dict(model.metadata["config"])
    u = config.units
    # One step, the state as explicit inputs and outputs (TFLite has no Keras state).
    code = keras.Input((1,), batch_size=1, dtype="int32", name="code")
    state_in = [keras.Input((u,), batch_size=1, name=f"s{i}") for i in range(2 * config.layers)]
    if config.input == "joint":
        x = layers.Embedding(config.num_inputs, config.embedding, name="embedding")(code)
    else:
        g = PlayerGestures(config.ensemble)(code)
        x = layers.Embedding(NUM_GESTURES * config.ensemble, config.embedding, name="embedding")(g)
        x = layers.Reshape((1, config.input_width))(x)
    state_out = []
    for i in range(config.layers):
        x, h, c = layers.LSTM(
            u, return_sequences=True, return_state=True, unroll=True, name=f"lstm_{i}"
        )(x, initial_state=state_in[2 * i : 2 * i + 2])
        state_out += [h, c]
    logits = layers.Dense(config.num_outputs, name="output")(x)
    if config.stay:
        logits = StayLogit(config.num_outputs, name="stay")(logits, code)
    if config.copy:
        logits = CopyLogit(config.others, name="copy")(logits, code)
    probs = layers.Softmax()(logits)
    net = keras.Model([code, *state_in], [probs, *state_out])
    set_keras_weights(net, keras_weights(model), config.layers)

    with tempfile.TemporaryDirectory() as folder:
        net.export(folder, format="tf_saved_model", verbose=False)
        flat = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
    interpreter = Interpreter(model_content=flat, num_threads=1)
    interpreter.allocate_tensors()
    ins = interpreter.get_input_details()
    outs = interpreter.get_output_details()
    # Match inputs and outputs by shape and order: code first, then the states in order.
    code_in = next(d["index"] for d in ins if d["dtype"] == np.int32)
    state_ins = [d["index"] for d in ins if d["dtype"] != np.int32]
    prob_out = next(d["index"] for d in outs if d["shape"][-1] == config.num_outputs)
    state_outs = [d["index"] for d in outs if d["shape"][-1] != config.num_outputs]
    order_in = sorted(state_ins, key=lambda i: next(d["name"] for d in ins if d["index"] == i))
    order_out = sorted(state_outs, key=lambda i: next(d["name"] for d in outs if d["index"] == i))

    state = [np.zeros((1, u), np.float32) for _ in state_in]

    def reset():
        for s in state:
            s[...] = 0.0

    def step(c):
        interpreter.set_tensor(code_in, np.array([[c]], dtype=np.int32))
        for index, s in zip(order_in, state, strict=True):
            interpreter.set_tensor(index, s)
        interpreter.invoke()
        p = interpreter.get_tensor(prob_out)
        for index, s in zip(order_out, state, strict=True):
            s[...] = interpreter.get_tensor(index)
        return p

    return Runner(step, reset), len(flat)


IMPORT_CHECK = """
import sys, time
start = time.perf_counter()
from gesture_rnn import runtime
from gesture_rnn.evaluate import single_threaded_blas
imported = time.perf_counter()
model = runtime.load(sys.argv[1])
loaded = time.perf_counter()
heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]
print(imported - start, loaded - imported, len(heavy), 'pandas' in sys.modules)
"""


def import_and_load(path: Path, repeats: int = 5) -> dict:
    """Median seconds, in a fresh process each time, to import the runtime and load."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_CHECK, str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        runs.append((float(out[0]), float(out[1]), int(out[2]), out[3] == "True"))
    imports, loads = np.median([r[0] for r in runs]), np.median([r[1] for r in runs])
    return {
        "import_s": float(imports),
        "load_s": float(loads),
        "total_s": float(imports + loads),
        "tensorflow_imported": any(r[2] for r in runs),
        "pandas_imported": any(r[3] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=runtime.bundled_path(4))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5, help="turns each implementation takes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    model = runtime.load(args.model)
    rng = np.random.default_rng(0)
    gestures = rng.integers(0, NUM_GESTURES, size=(args.steps, model.ensemble))
    # Gestures persist in real play; make the lead hold each gesture a few seconds.
    gestures = np.repeat(gestures[::4], 4, axis=0)[: args.steps]
    codes = (gestures * NUM_GESTURES ** np.arange(model.ensemble)).sum(axis=1)
    assert all(decode_ensemble(int(c), model.ensemble) == tuple(g) for c, g in
               zip(codes[:5], gestures[:5], strict=True))  # fmt: skip

    results = {"model": str(args.model), "steps": args.steps, "ensemble": model.ensemble,
               "rounds": args.rounds}  # fmt: skip
    runners = {"numpy": numpy_runner(model), "keras": keras_runner(model)}
    try:
        runners["litert"], results["tflite_bytes"] = litert_runner(model)
    except ImportError as error:
        results["litert"] = {"error": f"ai-edge-litert is not installed ({error})"}
    for runner in runners.values():  # warm up, then start every one from zero state
        runner.run(codes[:200], measure=False)
        runner.reset()
    with single_threaded_blas():  # numpy on one BLAS thread, as the bridge steps it
        for chunk in np.array_split(codes, args.rounds):
            for runner in runners.values():
                runner.run(chunk.tolist())
    ours = np.array(runners["numpy"].outputs)
    for name, runner in runners.items():
        results[name] = percentiles(runner.times)
        results[name]["max_abs_diff"] = float(np.abs(np.array(runner.outputs) - ours).max())
    results["import_and_load"] = import_and_load(args.model)

    print(f"model {args.model} ({model!r}), {args.steps} steps, one thread of a busy CPU")
    print(f"{'':10} {'p50 us':>10} {'p99 us':>10} {'p50 x':>8} {'p99 x':>8}  max |p - numpy|")
    base = results["numpy"]
    for name in ("numpy", "keras", "litert"):
        r = results[name]
        if "error" in r:
            print(f"{name:10} {r['error']}")
            continue
        print(
            f"{name:10} {r['p50_us']:10.1f} {r['p99_us']:10.1f} "
            f"{r['p50_us'] / base['p50_us']:8.1f} {r['p99_us'] / base['p99_us']:8.1f}"
            f"  {r.get('max_abs_diff', 0.0):.2e}"
        )
    il = results["import_and_load"]
    print(
        f"import gesture_rnn.runtime {il['import_s'] * 1000:.0f} ms + load "
        f"{il['load_s'] * 1000:.0f} ms = {il['total_s'] * 1000:.0f} ms (fresh process, median "
        f"of 5); tensorflow imported: {il['tensorflow_imported']}; "
        f"pandas imported: {il['pandas_imported']}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
