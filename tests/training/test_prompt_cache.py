import io

import pytest
import torch

from arc_efe.training.prompt_cache import PromptCache


def test_hit_until_refresh_then_miss():
    cache = PromptCache(refresh_every=3)
    assert cache.lookup(("t", 0), step=0) is None
    cache.store(("t", 0), torch.ones(4), step=0)
    assert torch.equal(cache.lookup(("t", 0), step=1), torch.ones(4))
    assert torch.equal(cache.lookup(("t", 0), step=2), torch.ones(4))
    assert cache.lookup(("t", 0), step=3) is None  # age 3 == refresh_every: recompute
    assert cache.lookup(("t", 1), step=1) is None  # another augmentation is another key
    assert (cache.hits, cache.misses) == (2, 3)


def test_refresh_every_one_never_reuses():
    cache = PromptCache(refresh_every=1)
    cache.store("t", torch.ones(2), step=5)
    assert cache.lookup("t", step=5) is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_earlier_step_is_a_miss():
    cache = PromptCache(refresh_every=10)
    cache.store("t", torch.ones(2), step=5)
    assert cache.lookup("t", step=4) is None


def test_invalid_refresh_every():
    with pytest.raises(ValueError, match="refresh_every"):
        PromptCache(refresh_every=0)


def test_stored_prompt_is_detached():
    w = torch.ones(3, requires_grad=True)
    prompt = w * 2
    cache = PromptCache(refresh_every=5)
    cache.store("t", prompt, step=0)
    reused = cache.lookup("t", step=1)
    assert prompt.requires_grad and not reused.requires_grad and reused.grad_fn is None
    torch.testing.assert_close(reused, prompt.detach())


def test_stale_keys_are_pruned():
    cache = PromptCache(refresh_every=2)
    for step in range(200):
        cache.store(("task", step), torch.zeros(1), step=step)
    assert len(cache) <= 65  # without pruning all 200 keys would stay
    assert cache.lookup(("task", 199), step=199) is not None


def test_state_round_trip_resumes_exactly():
    cache = PromptCache(refresh_every=4)
    cache.store(("a", 3), torch.arange(3.0), step=1)
    cache.store(("b", 0), torch.ones(3), step=2)
    cache.lookup(("a", 3), step=2)
    cache.lookup(("c", 0), step=2)
    buffer = io.BytesIO()
    torch.save(cache.state_dict(), buffer)
    buffer.seek(0)

    resumed = PromptCache(refresh_every=4)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert (resumed.hits, resumed.misses, len(resumed)) == (1, 1, 2)
    for c in (cache, resumed):  # both must answer the same from here on
        assert torch.equal(c.lookup(("a", 3), step=4), torch.arange(3.0))
        assert c.lookup(("a", 3), step=5) is None
        assert torch.equal(c.lookup(("b", 0), step=5), torch.ones(3))
    assert (resumed.hits, resumed.misses) == (cache.hits, cache.misses)


def test_clear_drops_entries_keeps_counters():
    cache = PromptCache(refresh_every=4)
    cache.store("t", torch.ones(1), step=0)
    cache.lookup("t", step=1)
    cache.clear()
    assert len(cache) == 0 and cache.lookup("t", step=1) is None
    assert (cache.hits, cache.misses) == (1, 1)
