"""Pure numpy/scipy/pandas analyses (no Django): human similarity, reliability, comparison."""
