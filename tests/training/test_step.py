import torch

from arc_efe.training.step import clip_groups, group_grad_norms


def test_a_huge_policy_gradient_does_not_shrink_the_agent_update():
    agent, policy = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))
    agent.grad = torch.tensor([0.3, 0.0, 0.4])  # norm 0.5, under the clip
    policy.grad = torch.full((3,), 1e6)
    clip_groups({"agent": [agent], "policy": [policy]}, max_norm=1.0)
    assert torch.equal(agent.grad, torch.tensor([0.3, 0.0, 0.4]))
    assert torch.isclose(policy.grad.norm(), torch.tensor(1.0))


def test_group_norms_skip_parameters_without_gradient():
    with_grad, without = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    with_grad.grad = torch.tensor([3.0, 4.0])
    norms = group_grad_norms({"a": [with_grad, without], "b": [without]})
    assert float(norms["a"]) == 5.0 and float(norms["b"]) == 0.0
