"""Class names -> texts -> text embeddings -> scores: the one zero-shot classifier of the library."""
