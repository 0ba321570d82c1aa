"""Spectral norm with the official (legacy) names: eval mode uses the stored u, v; folding keeps the numbers."""

import torch
import torch.nn.functional as F

from cocosnet.nn.spectral import fold_spectral_norm_, sn_conv, unfold_state_dict


def test_spectral_norm_eval_uses_stored_u_v_without_power_iteration():
    torch.manual_seed(0)
    conv = sn_conv(2, 3, 1, bias=False)
    w = torch.randn(3, 2, 1, 1)
    u, v = F.normalize(torch.randn(3), dim=0), F.normalize(torch.randn(2), dim=0)
    conv.load_state_dict({"weight_orig": w, "weight_u": u, "weight_v": v})
    conv.eval()
    x = torch.randn(1, 2, 1, 1)
    sigma = torch.dot(u, w.view(3, 2) @ v)
    for _ in range(2):  # twice: eval must not update u, v
        assert torch.allclose(conv(x), F.conv2d(x, w / sigma), atol=1e-6)
    assert torch.equal(conv.weight_u, u)


def test_folding_spectral_norm_gives_the_hooked_output_exactly_and_writes_the_official_keys_back():
    torch.manual_seed(0)
    net = torch.nn.Sequential(sn_conv(4, 6, 3, padding=1), torch.nn.LeakyReLU(0.2), sn_conv(6, 2, 1))
    for _ in range(3):  # converge u, v as training does
        net(torch.randn(2, 4, 8, 8))
    net.eval()
    official = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        hooked = net(x)
        folded = fold_spectral_norm_(net)
        assert sorted(folded) == ["0", "2"] and not net[0]._forward_pre_hooks
        assert torch.equal(net(x), hooked)  # the same division the hook does, done once
    back = unfold_state_dict(net.state_dict(), folded)
    assert back.keys() == official.keys()
    for k in official:
        assert torch.allclose(back[k], official[k], rtol=1e-6, atol=0), k


def test_folding_into_a_conversion_leaves_the_stored_weight_untouched():
    """With `convert`, the quotient is made out of place (the checkpoint's pages stay clean, so they can be
    handed back) and what `convert` returns is the module's weight: the same numbers as folding in place."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(sn_conv(4, 6, 3, padding=1)).eval()
    stored = net[0].weight_orig
    before = stored.detach().clone()
    in_place = torch.nn.Sequential(sn_conv(4, 6, 3, padding=1)).eval()
    in_place.load_state_dict(net.state_dict())
    fold_spectral_norm_(in_place)
    seen = []
    fold_spectral_norm_(net, lambda source, folded: seen.append(source) or folded.to(torch.float64))
    assert len(seen) == 1 and seen[0] is stored and torch.equal(stored, before)
    assert net[0].weight.dtype == torch.float64 and torch.equal(net[0].weight, in_place[0].weight.double())
