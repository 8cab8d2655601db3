"""ATLD method (ICLR 2021 submission Sec. 4.1, Eq. (6)-(7)) and its latent discriminator."""

from __future__ import annotations

import pytest
import torch

from advdist import config, data, models, store
from advdist.methods import atld as A, build as build_method
from advdist.methods.feature_scattering import smooth_labels, soft_cross_entropy
from advdist.models.discriminator import SIZES, LatentDiscriminator, build_discriminator

pytestmark = pytest.mark.usefixtures("one_thread")

EPS = 0.1


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def _cfg(**kw):
    return config.resolve("smoke", "atld-cifar10", method="atld", method_kwargs=kw)


def _model(seed=0):
    torch.manual_seed(seed)
    return models.build("mlp", num_classes=10, in_channels=1, hidden=(32,), input_shape=(1, 8, 8))


def test_discriminator_shapes_and_sizes():
    d = LatentDiscriminator(7, 5, stem=4, widths=(6, 8), blocks=2)
    m, c = d(torch.randn(9, 7))
    assert m.shape == (9,) and c.shape == (9, 5)  # 1 + C outputs
    p = d.eval().p_natural(torch.randn(3, 7))
    assert ((p > 0) & (p < 1)).all()
    big = build_discriminator(10, 10, "wrn-28-5")
    widths = [b.fc2.out_features for b in big.body]
    assert widths == [80] * 4 + [160] * 4 + [320] * 4 and big.fc.out_features == 1 and big.fc2.out_features == 10
    assert set(SIZES) >= {"wrn-28-5", "small"}
    with pytest.raises(ValueError, match="unknown discriminator size"):
        build_discriminator(3, 3, "huge")


def test_unknown_options_are_errors():
    with pytest.raises(ValueError, match="unknown atld option"):
        build_method("atld", _cfg(bogus=1), _model())
    with pytest.raises(ValueError, match="disc_input"):
        build_method("atld", _cfg(disc_input="pixels"), _model())
    with pytest.raises(ValueError, match="invariance"):
        build_method("atld", _cfg(invariance="kl"), _model())
    with pytest.raises(ValueError, match="disc_batches=.*valid: mixed, pure"):
        build_method("atld", _cfg(disc_batches="shuffled"), _model())
    with pytest.raises(ValueError, match="disc_latents=.*valid: eval, code"):
        build_method("atld", _cfg(disc_latents="train"), _model())


@pytest.mark.parametrize("disc_input", ["features", "logits"])
def test_lmae_raises_perturbed_score_and_stays_in_ball(digits, disc_input):
    """The manifold loss drives one-step perturbations that raise the discriminator's "perturbed" score 1 − D⁰,
    more than a random sign step of the same size does; the result is in the ε-ball and [0, 1]."""
    model = _model()
    method = build_method("atld", _cfg(disc_input=disc_input), model)
    x = digits.x_train[:128]
    feat = A.latent_fn(model, disc_input)
    disc = method.disc.eval()  # fixed BN statistics: scores of different batches are comparable
    x_adv = A.lmae(model, disc, x, eps=EPS, disc_input=disc_input)
    torch.manual_seed(1)
    x_rand = (x + EPS * torch.randn_like(x).sign()).clamp(0, 1)
    with torch.no_grad():
        def score(z):
            return (1 - disc.p_natural(feat(z))).mean().item()
        s0, s_adv, s_rand = score(x), score(x_adv), score(x_rand)
    assert s_adv > s0 + 1e-4 and s_adv > s_rand
    assert (x_adv - x).abs().max() <= EPS + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    # one full ε sign step from x: every coordinate not clipped by [0, 1] moves by exactly ε
    free = (x > EPS) & (x < 1 - EPS)
    assert torch.allclose((x_adv - x).abs()[free], torch.full_like(x[free], EPS), atol=1e-6)


def test_lmae_uses_no_labels(digits):
    model = _model()
    method = build_method("atld", _cfg(), model)
    x, y = digits.x_train[:64], digits.y_train[:64]
    a = method.adversarial(model, x, y)
    b = method.adversarial(model, x, (y + 3) % 10)
    assert torch.equal(a, b)


def test_discriminator_steps_lower_its_loss(digits):
    model = _model()
    method = build_method("atld", _cfg(lr_d=0.05, d_steps=1), model)
    x, y = digits.x_train[:128], digits.y_train[:128]
    with torch.no_grad():
        z_nat = model.features(x)
        z_adv = model.features(A.lmae(model, method.disc, x, eps=EPS))
    target = smooth_labels(y, 10, 0.5)
    first = A.discriminator_loss(method.disc, z_nat, z_adv, target)[0].item()
    for _ in range(30):
        method.update_discriminator(z_nat, z_adv, target)
    last, p_nat, p_adv = A.discriminator_loss(method.disc, z_nat, z_adv, target)
    assert last.item() < first - 0.1
    assert p_nat > 0.5 > p_adv  # it separates natural from perturbed latents


def test_adversarial_invariance_reaches_classifier_not_discriminator(digits):
    """Eq. (7): θ minimises CE_ls + λ·L⁰_d through D_W; W gets no gradient from the classifier's loss."""
    model = _model()
    method = build_method("atld", _cfg(), model)
    x, y = digits.x_train[:64], digits.y_train[:64]
    loss, logs = method.loss(model, x, y)
    for p in method.disc.parameters():
        p.grad = None
    loss.backward()
    assert all(p.grad is None for p in method.disc.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert {"train_adv_acc", "d_loss", "d_nat", "d_adv"} <= set(logs)


def test_lam_zero_reduces_to_smoothed_ce_on_lmae(digits):
    """λ = 0: the classifier's loss is the label-smoothed CE on the LMAE batch (ATLD Eq. (7) without L⁰_d)."""
    model = _model()
    method = build_method("atld", _cfg(lam=0.0, d_steps=0), model)
    x, y = digits.x_train[:64], digits.y_train[:64]
    loss, _ = method.loss(model, x, y)
    x_adv = method.adversarial(model, x)
    expect = soft_cross_entropy(model(x_adv), smooth_labels(y, 10, 0.5))
    assert torch.allclose(loss, expect, atol=1e-6)


def test_logit_mse_option_matches_code_formula(digits):
    """invariance="logit_mse" (official code): CE_ls + MSE(z_adv, z_nat)·scale/2, scale = max ∂CE/∂x ÷ max ∂MSE/∂x."""
    model = _model()
    method = build_method("atld", _cfg(**A.ATLD_OFFICIAL, d_steps=0), model)
    x, y = digits.x_train[:64], digits.y_train[:64]
    torch.manual_seed(3)
    loss, _ = method.loss(model, x, y)
    torch.manual_seed(3)
    x_adv = method.adversarial(model, x).requires_grad_(True)
    z = model(x_adv)
    with torch.no_grad():
        model.eval()
        z_nat = model(x)
        model.train()
    ce = soft_cross_entropy(z, smooth_labels(y, 10, 0.5))
    mse = ((z - z_nat) ** 2).mean()
    g1, = torch.autograd.grad(ce, x_adv, retain_graph=True)
    g2, = torch.autograd.grad(mse, x_adv, retain_graph=True)
    expect = ce + mse * (g1.max() / g2.max()) / 2.0
    assert torch.allclose(loss, expect, rtol=1e-5)
    assert mse.item() > 0


def test_training_learns_and_discriminator_is_restored(digits, runs_dir):
    """A smoke run trains (clean accuracy far above chance), saves the discriminator with the checkpoint, and
    ``load_discriminator`` returns exactly those weights in eval mode."""
    cfg = config.resolve("smoke", "atld-cifar10", method="atld", method_kwargs={"lr_d": 0.05})
    model, run = store.get_or_train(cfg, progress=False, splits=digits)
    log = run.log
    assert log["test_acc"].iloc[-1] > 0.5
    assert log["d_nat"].iloc[-1] > log["d_adv"].iloc[-1]  # the discriminator separates the two latents
    disc = A.load_discriminator(run, model)
    assert not disc.training
    state = torch.load(run.path / "checkpoint.pt", weights_only=False)["method"]["disc"]
    for k, v in disc.state_dict().items():
        assert torch.equal(v, state[k])
    with pytest.raises(ValueError, match="not 'atld'"):
        A.load_discriminator(store.run_for(cfg.replace(method="standard"), digits.fingerprint))


@pytest.mark.parametrize("batches", A.DISC_BATCHES)
def test_adversarial_invariance_is_the_manifold_loss(digits, batches):
    """loss(λ) − loss(0) = λ·[mean log(1 − D⁰(f(x_adv))) + mean log D⁰(f(x))] (Eq. (6)-(7), P(natural) convention),
    D reading the two batches as one (mixed) or apart (pure)."""
    model = _model()
    method = build_method("atld", _cfg(d_steps=0, lam=0.7, disc_batches=batches), model)
    x, y = digits.x_train[:64], digits.y_train[:64]
    loss, _ = method.loss(model, x, y)
    x_adv = method.adversarial(model, x)
    method.disc.train()
    with torch.no_grad():
        if batches == "pure":
            ln, _ = method.disc(model.features(x))
            la, _ = method.disc(model.features(x_adv))
        else:
            out, _ = method.disc(torch.cat([model.features(x), model.features(x_adv)]))
            ln, la = out[:64], out[64:]
        manifold = torch.log(1 - torch.sigmoid(la)).mean() + torch.log(torch.sigmoid(ln)).mean()
        ce = soft_cross_entropy(model(x_adv), smooth_labels(y, 10, 0.5))
    assert torch.allclose(loss.detach(), ce + 0.7 * manifold, atol=1e-5)


# ---- the discriminator's batches and latents (issue 15) -------------------------------------------------------------
def _auc(pos, neg):
    from advdist.analysis.discriminator import roc_auc

    return roc_auc(pos.numpy(), neg.numpy())


def test_pure_batches_cannot_see_a_shift_mixed_batches_can():
    """In train mode, D on an all-perturbed batch is blind to a constant shift of that batch (stem → BatchNorm removes
    the batch mean): D⁰(z + c) = D⁰(z) in "pure" mode — the flaw of the official code. On the mixed batch the shift
    reaches the output."""
    torch.manual_seed(0)
    disc = build_discriminator(16, 10, "small").train()
    z_nat, z_adv = torch.randn(64, 16), torch.randn(64, 16)
    c = 3.0 * torch.ones(16)
    _, _, la, _ = A.disc_pair(disc, z_nat, z_adv, "pure")
    _, _, la_shift, _ = A.disc_pair(disc, z_nat, z_adv + c, "pure")
    assert torch.allclose(la, la_shift, atol=1e-4)
    _, _, la, _ = A.disc_pair(disc, z_nat, z_adv, "mixed")
    _, _, la_shift, _ = A.disc_pair(disc, z_nat, z_adv + c, "mixed")
    assert (la - la_shift).abs().mean() > 0.1
    disc.eval()  # at inference (running statistics) one call and two calls are the same function
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in
               zip(A.disc_pair(disc, z_nat, z_adv, "mixed"), A.disc_pair(disc, z_nat, z_adv, "pure")))
    with pytest.raises(ValueError, match="valid: mixed, pure"):
        A.disc_pair(disc, z_nat, z_adv, "both")


@pytest.mark.parametrize("batches, lo, hi", [("mixed", 0.95, 1.0), ("pure", 0.0, 0.75)])
def test_discriminator_learns_a_mean_shift_only_from_mixed_batches(batches, lo, hi):
    """Natural latents N(0, I₃₂), perturbed N(μ, I₃₂) with ‖μ‖ = 2√2: the best rule has ROC-AUC Φ(‖μ‖/√2) = Φ(2) =
    0.977. ATLD's discriminator update with mixed batches (default) reaches it (eval mode, fresh samples); with the
    official pure batches it stays near chance (issue 15 measured 0.515 / 0.585)."""
    model = _model()
    method = build_method("atld", _cfg(disc_batches=batches, lr_d=0.05, d_steps=1), model)
    g = torch.Generator().manual_seed(1)
    mu = 0.5  # per coordinate: ‖μ‖ = 0.5·√32
    for _ in range(200):
        y = torch.randint(0, 10, (128,), generator=g)
        method.update_discriminator(torch.randn(128, 32, generator=g), torch.randn(128, 32, generator=g) + mu,
                                    smooth_labels(y, 10, 0.5))
    disc = method.disc.eval()
    with torch.no_grad():
        pn = disc.p_natural(torch.randn(2000, 32, generator=g))
        pa = disc.p_natural(torch.randn(2000, 32, generator=g) + mu)
    assert lo <= _auc(pn, pa) <= hi


@pytest.mark.parametrize("latents", A.DISC_LATENTS)
def test_discriminator_latents_come_from_one_classifier_mode(digits, latents):
    """disc_latents="eval" (default): D is trained on f(x) and f(x_adv) both from the eval-mode classifier (as IMT reads
    them); "code": the perturbed latents come from the train-mode forward. A BatchNorm classifier tells them apart."""
    torch.manual_seed(0)
    model = models.build("mini-cnn", num_classes=10, in_channels=1, input_size=8)
    with torch.no_grad():  # running statistics far from any batch's: train- and eval-mode latents differ
        model.bn1.running_mean.fill_(0.5)
        model.bn2.running_var.fill_(4.0)
    for bn in (model.bn1, model.bn2):
        bn.momentum = 0.0  # and they stay put through the train-mode forwards of the step
    method = build_method("atld", _cfg(disc_latents=latents, d_steps=1), model)
    seen = {}
    method.update_discriminator = lambda zn, za, t: seen.update(zn=zn.detach(), za=za.detach()) or (0.0, 0.5, 0.5)
    x, y = digits.x_train[:32], digits.y_train[:32]
    torch.manual_seed(5)
    method.loss(model, x, y)
    torch.manual_seed(5)
    x_adv = method.adversarial(model, x)
    model.eval()
    with torch.no_grad():
        z_eval_nat, z_eval = model.features(x), model.features(x_adv)
    model.train()
    with torch.no_grad():
        z_train = model.features(x_adv)
    assert torch.allclose(seen["zn"], z_eval_nat, atol=1e-5)
    assert not torch.allclose(z_eval, z_train, atol=1e-3)
    expect = z_eval if latents == "eval" else z_train
    assert torch.allclose(seen["za"], expect, atol=1e-5)


def test_official_options_keep_the_codes_discriminator():
    assert A.ATLD_OFFICIAL["disc_batches"] == "pure" and A.ATLD_OFFICIAL["disc_latents"] == "code"
    assert A.ATLD.defaults["disc_batches"] == "pure" and A.ATLD.defaults["disc_latents"] == "code"
    assert A.ATLD_INFORMATIVE_D == {"disc_batches": "mixed", "disc_latents": "eval"}
    assert A.ATLD_PURE_D == {"disc_batches": "pure", "disc_latents": "code"}


def test_load_discriminator_unreadable_checkpoint_is_one_line(digits, runs_dir):
    cfg = config.resolve("smoke", "atld-cifar10", method="atld")
    run = store.run_for(cfg, "not-a-real-fingerprint")
    run.path.mkdir(parents=True)
    (run.path / "checkpoint.pt").write_bytes(b"not a torch file")
    with pytest.raises(store.UnreadableRunFile, match="checkpoint.pt: unreadable") as e:
        A.load_discriminator(run, _model())
    assert "\n" not in str(e.value)
