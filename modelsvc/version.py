"""Version strings that artifacts record (part of the platform's artifact key)."""

__version__ = "0.1.0"

#: Bump a component's number whenever its numerical output changes.
COMPONENT_VERSIONS = {
    "relevance": 1,
    "embeddings": 1,
    "masking": 1,
    "generalisation": 2,  # 2: the artifact stores the unmasked correctness per image
    "comparison": 1,  # also the map-comparison job (Job.Kind.MAPS)
    "finetune": 2,  # 2: the split has its own seed
    "dissection": 1,
}


def code_version(component: str) -> str:
    """E.g. ``"modelsvc-0.1.0/relevance-1"``."""
    if component not in COMPONENT_VERSIONS:
        raise ValueError(
            f"The 'component' parameter of code_version must be one of "
            f"{sorted(COMPONENT_VERSIONS)}; got {component!r}."
        )
    return f"modelsvc-{__version__}/{component}-{COMPONENT_VERSIONS[component]}"
