"""Pure PyTorch compute engine (no Django): models, embeddings, relevance, masking."""
