"""The bundled quartet model against the shorter design, trained on the same data and budget.

The shorter design (the original Gesture-RNN's framing): one row per joint input code
(Embedding(6561, E)), one LSTM(256), and a softmax over the others' 729 joint states of
the *last* step of a 30-step window only. Batches of 64, Adam with gradient clipping
(norm 1), no dropout. It is trained here on the 30-step windows (``framing="last"``)
of the bundled quartet's own training performances (``metadata["split"]["train"]``,
every ordering), shuffled each epoch, for the bundled model's recorded training time;
after each epoch (and when time runs out) it is measured on the same validation
performances and the best weights are kept (early stopping, as ``gesture-rnn train``).

Both are then measured on the bundled model's test performances (every ordering):

- the bundled model as it runs (``evaluate_model``: teacher-forced from a zero state
  over each whole performance), on every step and on the steps t >= 30 alone;
- the shorter design as it runs live: step t by the window of the 30 inputs ending at
  t, from a zero state, so only steps t >= 30 have a prediction;
- the Markov (fitted on the training performances) and persistence baselines on both
  sets of steps.

Plus each model's parameters, weights size and the cost of one live prediction (numpy,
one BLAS thread, batch 1): one step for the bundled model, 30 LSTM steps for the
shorter design (its state must restart 30 steps back for every prediction).

Run from the repository root:
    .venv/bin/python bench/design.py [--seconds S] [--data DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from gesture_rnn import runtime
from gesture_rnn.corpus import EVERYTHING, load_corpus
from gesture_rnn.evaluate import (
    MIN_PROBABILITY,
    MarkovBaseline,
    Tally,
    count_steps,
    evaluate_model,
    performance_sequences,
    persistence_baseline,
    single_threaded_blas,
)
from gesture_rnn.gestures import NUM_GESTURES
from gesture_rnn.model import log_softmax
from gesture_rnn.prepare import build_sequences

WINDOW = 30
INPUTS = NUM_GESTURES**4  # joint input codes of a quartet
STATES = NUM_GESTURES**3  # the three others' joint states


# -- the shorter design --------------------------------------------------------------------


def build_short(embedding: int, units: int):
    import keras
    from keras import layers

    codes = keras.Input(shape=(WINDOW,), dtype="int32", name="codes")
    x = layers.Embedding(INPUTS, embedding, name="embedding")(codes)
    x = layers.LSTM(units, name="lstm")(x)  # the last step's output only
    logits = layers.Dense(STATES, name="output")(x)
    return keras.Model(codes, logits, name="short_design")


def window_metrics(model, x: np.ndarray, y: np.ndarray, batch: int = 2048) -> dict:
    """NLL and accuracy of the last-step predictions of windows x (n, 30), targets y (n,)."""
    nll, hits = 0.0, 0
    for a in range(0, len(x), batch):
        logits = np.asarray(model.predict_on_batch(x[a : a + batch]), dtype=np.float64)
        logp = log_softmax(logits)
        target = y[a : a + batch]
        nll -= float(logp[np.arange(len(target)), target].sum())
        hits += int((logits.argmax(axis=1) == target).sum())
    return {"nll": nll / len(y), "accuracy": hits / len(y), "steps": int(len(y))}


def train_short(args, train_seq, val_x, val_y) -> dict:
    """Train for ``args.seconds`` of wall time (validation included, as in ``train``)."""
    import keras

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build_short(args.embedding, args.units)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x_all, y_all = train_seq.arrays("last")  # every window, in the same order
    x_all, y_all = x_all.astype(np.int32), y_all.astype(np.int32)
    # The budget counts wall seconds, or with --clock cpu this process's CPU seconds.
    clock = time.process_time if args.clock == "cpu" else time.monotonic
    deadline = clock() + args.seconds
    wall0, cpu0 = time.monotonic(), time.process_time()

    class Deadline(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            done[0] += 1
            if clock() > deadline:
                self.model.stop_training = True

    best = {"nll": math.inf}
    best_weights, history, epoch = None, [], 0
    done = [0]  # batches trained, over all epochs
    while clock() < deadline:
        epoch += 1
        order = rng.permutation(len(x_all))
        keep = len(order) - len(order) % args.batch  # no short last batch
        fitted = model.fit(
            x_all[order[:keep]], y_all[order[:keep]], batch_size=args.batch, epochs=1,
            shuffle=False, verbose=0, callbacks=[Deadline()],
        )  # fmt: skip
        loss = float(fitted.history["loss"][-1])
        val = window_metrics(model, val_x, val_y)
        history.append({"epoch": epoch, "loss": loss, "validation_nll": val["nll"]})
        print(
            f"  epoch {epoch}: loss {loss:.4f}, validation NLL {val['nll']:.4f}, "
            f"accuracy {val['accuracy']:.4f} ({time.monotonic() - wall0:.0f} s wall, "
            f"{time.process_time() - cpu0:.0f} s CPU)",
            flush=True,
        )
        if val["nll"] < best["nll"]:
            best, best_weights = {**val, "epoch": epoch}, model.get_weights()
    model.set_weights(best_weights)
    return {
        "model": model,
        "wall_s": time.monotonic() - wall0,
        "cpu_s": time.process_time() - cpu0,
        "epochs": epoch,
        "epoch_batches": len(x_all) // args.batch,
        "batches": done[0],
        "windows": int(len(x_all)),
        "best": best,
        "history": history,
    }


# -- evaluation on the test performances ---------------------------------------------------


def test_windows(performances) -> tuple[np.ndarray, np.ndarray]:
    """Every step t >= 30 (sequence index s >= 29) of every ordering: its 30 inputs, target."""
    xs, ys = [], []
    for p in performances:
        x, y = performance_sequences(p, 4)
        win = np.lib.stride_tricks.sliding_window_view(x, WINDOW, axis=1)  # (n, T-30, 30)
        xs.append(win.reshape(-1, WINDOW))
        ys.append(y[:, WINDOW - 1 :].reshape(-1))
    return np.concatenate(xs).astype(np.int32), np.concatenate(ys).astype(np.int64)


def bundled_late_steps(model, performances) -> dict:
    """The bundled model run over whole performances, scored only on steps t >= 30."""
    tally = Tally(4)
    with single_threaded_blas():
        for p in performances:
            x, y = performance_sequences(p, 4)
            rows = np.arange(x.shape[0])
            chosen = np.empty(x.shape)
            predicted = np.empty(x.shape, dtype=np.int64)
            state = model.initial_state(x.shape[0])
            for t in range(x.shape[1]):
                prob, state = model.step_codes(x[:, t], state)
                chosen[:, t] = prob[rows, y[:, t]]
                predicted[:, t] = prob.argmax(axis=1)
            late = slice(WINDOW - 1, None)
            nll = -np.log(np.maximum(chosen[:, late], MIN_PROBABILITY))
            tally.add(nll, predicted[:, late], y[:, late])
    return tally.figures()


def baselines_late_steps(markov: MarkovBaseline, performances) -> dict:
    """Markov and persistence (epsilon fitted on these steps) on steps t >= 30."""
    smoothed = markov.counts + markov.alpha
    log_p = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
    best = np.argmax(markov.counts, axis=1)
    pairs = [performance_sequences(p, 4) for p in performances]
    lasts = [x[:, WINDOW - 1 :] // NUM_GESTURES for x, _ in pairs]
    ys = [y[:, WINDOW - 1 :] for _, y in pairs]
    steps = sum(y.size for y in ys)
    eps = sum(int(np.count_nonzero(a != y)) for a, y in zip(lasts, ys, strict=True)) / steps
    stay, move = -math.log(1 - eps), -math.log(eps / (STATES - 1))
    mk, ps = Tally(4), Tally(4)
    for last, y in zip(lasts, ys, strict=True):
        mk.add(-log_p[last, y], best[last], y)
        ps.add(np.where(last == y, stay, move), last, y)
    return {"markov": mk.figures(), "persistence": {**ps.figures(), "epsilon": eps}}


# -- live cost -----------------------------------------------------------------------------


class NumpyShort:
    """The shorter design in numpy, as it would run live: 30 LSTM steps per prediction."""

    def __init__(self, keras_model):
        emb = keras_model.get_layer("embedding").get_weights()[0]
        kernel, recurrent, bias = keras_model.get_layer("lstm").get_weights()
        self.projection = (emb @ kernel + bias).astype(np.float32)  # (6561, 4U)
        self.recurrent = recurrent.astype(np.float32)
        self.w, self.b = (
            a.astype(np.float32) for a in keras_model.get_layer("output").get_weights()
        )
        self.units = recurrent.shape[0]

    def predict(self, window: np.ndarray) -> np.ndarray:
        u = self.units
        h = np.zeros(u, dtype=np.float32)
        c = np.zeros(u, dtype=np.float32)
        for code in window:
            z = self.projection[code] + h @ self.recurrent
            i, f = 1 / (1 + np.exp(-z[:u])), 1 / (1 + np.exp(-z[u : 2 * u]))
            g, o = np.tanh(z[2 * u : 3 * u]), 1 / (1 + np.exp(-z[3 * u :]))
            c = f * c + i * g
            h = o * np.tanh(c)
        logits = h @ self.w + self.b
        e = np.exp(logits - logits.max())
        return e / e.sum()


def live_cost(bundled, short_np, windows: np.ndarray, n: int = 500) -> dict:
    """Median and p99 microseconds of one live prediction, batch 1, one BLAS thread."""
    out = {}
    with single_threaded_blas():
        state = bundled.initial_state(1)
        times = []
        for k in range(n + 50):
            t0 = time.perf_counter_ns()
            _, state = bundled.step_codes(windows[k % len(windows), -1:], state)
            times.append(time.perf_counter_ns() - t0)
        out["bundled"] = _pct(times[50:])
        times = []
        for k in range(n + 20):
            t0 = time.perf_counter_ns()
            short_np.predict(windows[k % len(windows)])
            times.append(time.perf_counter_ns() - t0)
        out["short"] = _pct(times[20:])
    return out


def _pct(ns) -> dict:
    us = np.array(ns) / 1000
    return {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99))}


def wait_for_quiet(limit: float, max_wait: float) -> float:
    """Wait (checking every 30 s, at most ``max_wait`` s) for a 1-minute load below limit."""
    waited = 0.0
    while os.getloadavg()[0] >= limit and waited < max_wait:
        print(f"  load {os.getloadavg()[0]:.2f} >= {limit}: waiting", flush=True)
        time.sleep(30)
        waited += 30
    return os.getloadavg()[0]


# -- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/metatone-analysis")
    parser.add_argument("--model", default=str(runtime.bundled_path(4)))
    parser.add_argument(
        "--seconds", type=float, default=None,
        help="training budget in seconds (default: the bundled model's recorded time)",
    )  # fmt: skip
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="what --seconds counts: wall time, or this process's CPU time (all threads)",
    )  # fmt: skip
    parser.add_argument("--embedding", type=int, default=256)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-load", type=float, default=1.2)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    bundled = runtime.load(args.model)
    meta = bundled.metadata
    split = meta["split"]
    budget = args.seconds if args.seconds is not None else float(meta["training"]["seconds"])
    args.seconds = budget
    by_name = {p.name: p for p in load_corpus(args.data, EVERYTHING)}
    sides = {side: [by_name[n] for n in names] for side, names in split.items()}
    train_seq = build_sequences(sides["train"], 4, WINDOW)
    val_x, val_y = test_windows(sides["validation"])
    test_x, test_y = test_windows(sides["test"])

    print(f"waiting for a 1-minute load below {args.max_load} (up to 10 min)", flush=True)
    load_before = wait_for_quiet(args.max_load, 600)
    print(f"training the shorter design for {budget:.0f} s {args.clock} (load {load_before:.2f})")
    trained = train_short(args, train_seq, val_x, val_y)
    load_after = os.getloadavg()[0]
    short = trained["model"]

    evaluated_at = time.monotonic()
    results = {
        "budget_s": budget,
        "load_1min": {"before": load_before, "after_training": load_after},
        "training": {k: v for k, v in trained.items() if k != "model"},
        "settings": {
            "embedding": args.embedding,
            "units": args.units,
            "batch": args.batch,
            "learning_rate": args.learning_rate,
            "seed": args.seed,
            "window": WINDOW,
        },  # fmt: skip
        "bundled_training": {
            "wall_s": meta["training"]["seconds"],
            "epochs": meta["training"]["epochs"],
            "best_epoch": meta["training"]["best_epoch"],
        },
        "all_steps": {
            "bundled": evaluate_model(bundled, sides["test"]),
            "markov": MarkovBaseline.fit(sides["train"], 4).evaluate(sides["test"]),
            "persistence": persistence_baseline(sides["test"], 4),
        },
        "late_steps": {
            "bundled": bundled_late_steps(bundled, sides["test"]),
            "short": window_metrics(short, test_x, test_y),
            **baselines_late_steps(MarkovBaseline.fit(sides["train"], 4), sides["test"]),
        },
    }
    results["evaluation_wall_s"] = time.monotonic() - evaluated_at
    results["steps"] = {"all": count_steps(sides["test"], 4), "late": int(len(test_y))}

    short_np = NumpyShort(short)
    check = np.asarray(short.predict_on_batch(test_x[:8]), dtype=np.float64)
    check = np.exp(log_softmax(check))
    diff = max(
        float(np.abs(short_np.predict(w) - p).max()) for w, p in zip(test_x[:8], check, strict=True)
    )
    # Weights as float32 (what an exported model file mostly holds), and the bundled file.
    sizes = {"bundled": int(meta["training"]["parameters"]), "short": int(short.count_params())}
    results["size"] = {k: {"parameters": n, "weights_bytes": 4 * n} for k, n in sizes.items()}
    results["size"]["bundled"]["file_bytes"] = Path(args.model).stat().st_size
    results["live"] = {"numpy_check_max_diff": diff, **live_cost(bundled, short_np, test_x)}
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


def report(r: dict) -> None:
    t = r["training"]
    print(
        f"\nshorter design: {t['epochs']} epochs of {t['epoch_batches']} batches "
        f"({t['windows']} windows; {t['batches']} batches trained), "
        f"best epoch {t['best']['epoch']} "
        f"(validation NLL {t['best']['nll']:.4f}); {t['wall_s']:.0f} s wall, "
        f"{t['cpu_s']:.0f} s CPU; load {r['load_1min']['before']:.2f} before, "
        f"{r['load_1min']['after_training']:.2f} after"
    )
    a, late = r["all_steps"], r["late_steps"]
    print(
        f"\n| predictor | NLL, all {r['steps']['all']} steps | accuracy, all "
        f"| NLL, t >= 30 ({r['steps']['late']} steps) | accuracy, t >= 30 |"
    )
    print("| --- | --- | --- | --- | --- |")
    rows = [
        ("bundled quartet", a["bundled"], late["bundled"]),
        ("shorter design", None, late["short"]),
        ("Markov", a["markov"], late["markov"]),
        ("persistence", a["persistence"], late["persistence"]),
    ]
    for name, whole, part in rows:
        w = f"{whole['nll']:.4f} | {whole['accuracy']:.4f}" if whole else "- | -"
        print(f"| {name} | {w} | {part['nll']:.4f} | {part['accuracy']:.4f} |")
    b, s = late["bundled"], late["short"]
    print(
        f"\nt >= 30 ({s['steps']} steps): shorter design NLL / bundled = "
        f"{s['nll'] / b['nll']:.3f}, accuracy difference {s['accuracy'] - b['accuracy']:+.4f}"
    )
    sz, live = r["size"], r["live"]
    for name in ("bundled", "short"):
        print(
            f"{name}: {sz[name]['parameters']:,} parameters, "
            f"{sz[name]['weights_bytes'] / 1e6:.2f} MB"
            f" float32 weights; live prediction p50 {live[name]['p50_us']:.0f} us,"
            f" p99 {live[name]['p99_us']:.0f} us"
        )
    print(
        f"ratios short / bundled: parameters "
        f"{sz['short']['parameters'] / sz['bundled']['parameters']:.1f}x, weights "
        f"{sz['short']['weights_bytes'] / sz['bundled']['weights_bytes']:.1f}x, live p50 "
        f"{live['short']['p50_us'] / live['bundled']['p50_us']:.1f}x "
        f"(numpy check max diff {live['numpy_check_max_diff']:.1e}); "
        f"evaluation took {r['evaluation_wall_s']:.0f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
