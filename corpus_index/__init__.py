"""Touch sequences from the corpus, found by gesture (see issue: corpus index)."""
