"""The settings of a map-comparison job (``Job.Kind.MAPS``), checked where the job is launched
and where it runs (``tasks.computations.maps``)."""

DEFAULTS = {"top_fraction": 0.1, "n_boot": 1000, "seed": 0}


def map_comparison_settings(params: dict) -> dict:
    """`params` with the defaults; a ValueError says what is wrong."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown map-comparison parameters {unknown}; known: {sorted(DEFAULTS)}.")
    settings = {**DEFAULTS, **params}
    fraction, n_boot, seed = settings["top_fraction"], settings["n_boot"], settings["seed"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ValueError(f"'top_fraction' must be a number in (0, 1); got {fraction!r}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or not 100 <= n_boot <= 100_000:
        raise ValueError(f"'n_boot' must be an integer in [100, 100000]; got {n_boot!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"'seed' must be a non-negative integer; got {seed!r}.")
    return settings
