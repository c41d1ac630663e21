"""The Gesture-RNN model in Keras 3: input codes in, the others' next joint state out.

For an ensemble of k players, step t reads one integer, the input code
``enc(lead[t], others[t-1])`` (0 .. 9**k - 1, see :mod:`gesture_rnn.prepare`), and
gives logits over the others' next joint state ``enc(others[t])`` (9**(k-1) classes,
729 for a quartet)::

    codes (batch, time) int
      -> embedding            "joint": one row per code; "players": one table per player
      -> LSTM x layers        return_sequences, each followed by dropout while training
      -> Dense                logits over 9**(k-1) states (softmax gives probabilities)
      -> + stay[last]         (if ``config.stay``) added to the logit of the others' last state
      -> + copy[i, last_i]    (if ``config.copy``) added to every state in which other
                              player i keeps its last gesture last_i, for each i

Gestures persist for many seconds, so "the others stay as they were" is the most common
next state; the stay logit (one learned weight per state) lets the network say so without
spending LSTM capacity on copying a 729-way state through. It sped up early training
but ended with a worse validation NLL in our runs, so it is off by default
(docs/models.md). The copy logit is the per-player form of the same idea: 9 learned
numbers for each other player, one per gesture it was playing, so that "player i keeps
its gesture" is learned from every state that contains it, not separately for each of
the 729 joint states.

Every layer has a fixed name (``embedding``, ``lstm_0`` .., ``output``) that
:mod:`gesture_rnn.export` reads the weights from. The numpy runtime
(:mod:`gesture_rnn.runtime`) computes exactly this network one step at a time.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .config import ModelConfig
from .gestures import NUM_GESTURES


@keras.saving.register_keras_serializable(package="gesture_rnn")
class PlayerGestures(layers.Layer):
    """Split input codes into each player's gesture, offset by 9 * player.

    The offset lets one (9k, E) embedding table hold k separate 9-row tables, one per
    player, so that ``Embedding`` then ``Reshape`` is "embed each player, concatenate".
    """

    def __init__(self, players: int, **kwargs):
        super().__init__(**kwargs)
        self.players = players

    def call(self, codes):
        codes = ops.expand_dims(ops.cast(codes, "int32"), -1)
        place = ops.convert_to_tensor(NUM_GESTURES ** np.arange(self.players), dtype="int32")
        offset = ops.convert_to_tensor(NUM_GESTURES * np.arange(self.players), dtype="int32")
        return (codes // place) % NUM_GESTURES + offset

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.players)

    def get_config(self):
        return {**super().get_config(), "players": self.players}


@keras.saving.register_keras_serializable(package="gesture_rnn")
class StayLogit(layers.Layer):
    """Add ``stay[s]`` to the logit of state ``s``, the others' last state (from the code)."""

    def __init__(self, states: int, initial: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.states = states
        self.initial = initial

    def build(self, input_shape):
        self.stay = self.add_weight(
            shape=(self.states,),
            initializer=keras.initializers.Constant(self.initial),
            name="stay",
        )

    def call(self, logits, codes):
        last = ops.cast(codes, "int32") // NUM_GESTURES  # drop the lead's digit
        return logits + ops.one_hot(last, self.states, dtype=logits.dtype) * self.stay

    def get_config(self):
        return {**super().get_config(), "states": self.states, "initial": self.initial}


@keras.saving.register_keras_serializable(package="gesture_rnn")
class CopyLogit(layers.Layer):
    """Add ``copy[i, g]`` to the logit of every state in which other player i keeps the
    gesture g it had a step before (g read from the input code), for each player i."""

    def __init__(self, others: int, initial: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.others = others
        self.initial = initial

    def build(self, input_shape):
        self.copy = self.add_weight(
            shape=(self.others, NUM_GESTURES),
            initializer=keras.initializers.Constant(self.initial),
            name="copy",
        )

    def call(self, logits, codes):
        states = NUM_GESTURES**self.others
        codes = ops.cast(codes, "int32")
        for i in range(self.others):
            last = (codes // NUM_GESTURES ** (i + 1)) % NUM_GESTURES  # player i's gesture before
            digit = (np.arange(states) // NUM_GESTURES**i) % NUM_GESTURES  # its gesture in s
            keeps = ops.convert_to_tensor(
                (digit[None, :] == np.arange(NUM_GESTURES)[:, None]).astype("float32")
            )  # (9, states): 1 where state s has gesture g for player i
            weight = ops.take(self.copy[i], last)  # (batch, time)
            logits = logits + ops.expand_dims(weight, -1) * ops.take(keeps, last, axis=0)
        return logits

    def get_config(self):
        return {**super().get_config(), "others": self.others, "initial": self.initial}


def build_model(config: ModelConfig, batch_size: int | None = None, stateful: bool = False):
    """The network of ``config``; ``stateful=True`` (with a batch size) runs step by step."""
    codes = keras.Input(shape=(None,), batch_size=batch_size, dtype="int32", name="codes")
    if config.input == "joint":
        x = layers.Embedding(config.num_inputs, config.embedding, name="embedding")(codes)
    else:
        gestures = PlayerGestures(config.ensemble, name="player_gestures")(codes)
        x = layers.Embedding(NUM_GESTURES * config.ensemble, config.embedding, name="embedding")(
            gestures
        )
        x = layers.Reshape((-1, config.input_width), name="concatenate")(x)
    for i in range(config.layers):
        # Dropout as its own layer, not the LSTM's argument, so GPUs keep the cuDNN kernel.
        x = layers.LSTM(config.units, return_sequences=True, stateful=stateful, name=f"lstm_{i}")(x)
        if config.dropout:
            x = layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    logits = layers.Dense(config.num_outputs, name="output")(x)
    if config.stay:
        # Start at log(states): staying is as likely as all else together at first.
        initial = float(np.log(config.num_outputs))
        logits = StayLogit(config.num_outputs, initial, name="stay")(logits, codes)
    if config.copy:
        # Start at log(9): each player keeps its gesture as likely as it takes any other.
        initial = float(np.log(NUM_GESTURES))
        logits = CopyLogit(config.others, initial, name="copy")(logits, codes)
    return keras.Model(codes, logits, name=f"gesture_rnn_{config.ensemble}")


def compile_model(model, config: ModelConfig) -> None:
    """Adam on the cross-entropy of every step's target, the loss the exported NLL reports."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log probabilities along the last axis, in numpy (stable: the max is taken out)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def predict_logits(model, codes: np.ndarray) -> np.ndarray:
    """The model's logits for (batch, time) codes, one row per row of ``codes``.

    ``predict_on_batch`` is the fast way on one device, but under a MirroredStrategy
    (Keras 3.15) it gives every replica the whole batch and returns their outputs one
    after the other (twice the rows on two devices); ``predict`` splits the batch.
    """
    codes = np.asarray(codes, dtype=np.int32)
    if model.distribute_strategy.num_replicas_in_sync == 1:
        return np.asarray(model.predict_on_batch(codes))
    return np.asarray(model.predict(codes, batch_size=len(codes), verbose=0))


def probabilities(model, codes: np.ndarray) -> np.ndarray:
    """Softmax of the model's logits for (batch, time) codes: (batch, time, 9**(k-1))."""
    return np.exp(log_softmax(predict_logits(model, codes).astype(np.float64)))


def load_checkpoint(path):
    """A Keras checkpoint written by training (``.keras``)."""
    return keras.saving.load_model(path, compile=False)
