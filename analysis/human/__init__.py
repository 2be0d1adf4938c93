"""Human similarity from judgments: triplet / 2AFC choices, pairwise ratings, embeddings."""
