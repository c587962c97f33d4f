from pathlib import Path

import pytest

from tests.tiny_clip import build_tiny_clip


@pytest.fixture(scope="session")
def other_clip_dir(tmp_path_factory) -> Path:
    """A second tiny CLIP with other weights: a different model version."""
    return build_tiny_clip(tmp_path_factory.mktemp("other-clip"), seed=1)
