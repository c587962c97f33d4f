import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train several times faster on one thread than on busy shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
