"""XLA and mixed precision settings: what 'auto' resolves to on this CPU, what each tier binds,
and a forced bfloat16 run (bfloat16 compute, float32 variables and outputs)."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import compose
from benchmarks.errors import HyperensError
from benchmarks.models import build_model
from benchmarks.settings import Cell
from benchmarks.train import TrainConfig, Trainer
from benchmarks.train.precision import resolve_jit, resolve_mixed_precision

pytestmark = pytest.mark.skipif(
    bool(tf.config.list_physical_devices("GPU")), reason="checks the CPU resolution"
)


def test_auto_is_off_on_the_cpu_and_booleans_pass_through():
    assert resolve_jit("auto") is False and resolve_mixed_precision("auto") is False
    assert resolve_jit(True) is True and resolve_jit(False) is False
    assert resolve_mixed_precision(True) is True and resolve_mixed_precision(False) is False


def test_bad_values_are_rejected():
    for name in ("jit_compile", "mixed_precision"):
        with pytest.raises(HyperensError, match=f"TrainConfig.{name} must be True, False or"):
            TrainConfig(**{name: "yes"})
        with pytest.raises(HyperensError):
            TrainConfig(**{name: 1})  # not the bool True


# (dataset, model, tier) -> (jit_compile, mixed_precision) as bound, and as resolved on the CPU
TIERS = {
    ("mnist5k", "mlp", "quick"): ((True, False), (True, False)),
    ("mnist5k", "lenet", "quick"): ((False, False), (False, False)),
    ("digits", "mlp", "smoke"): ((False, False), (False, False)),
    ("fashion_mnist", "mlp", "paper"): ((True, False), (True, False)),
    ("fashion_mnist", "lenet", "paper"): (("auto", False), (False, False)),
    ("cifar10", "resnet20", "paper"): (("auto", "auto"), (False, False)),
    ("cifar100", "wrn28_10", "paper"): (("auto", "auto"), (False, False)),
}


@pytest.mark.parametrize(("dataset", "model", "tier"), list(TIERS))
def test_tiers_bind_and_resolve_as_intended(dataset, model, tier):
    cfg = compose.resolve(Cell(dataset, model, "single", tier, 0)).train_config
    bound, resolved = TIERS[dataset, model, tier]
    assert (cfg.jit_compile, cfg.mixed_precision) == bound
    got = (resolve_jit(cfg.jit_compile), resolve_mixed_precision(cfg.mixed_precision))
    assert got == resolved


def test_the_trainer_uses_the_resolved_jit_setting(digits):
    for value, expected in ((True, True), (False, False), ("auto", False)):
        model = build_model("mlp", digits.input_shape, 10, settings={"widths": (8,)})
        trainer = Trainer(model, digits, TrainConfig(jit_compile=value, progress=False))
        assert trainer.jit_compile is expected
        assert trainer._epoch_fn._jit_compile is expected


HP = {"l2_0": [1e-4], "l2_1": [1e-4], "dropout_0": [0.1]}
CFG = dict(epochs=1, max_steps=4, batch_size=32, optimizer="adam", learning_rate=1e-3,
           jit_compile=False, progress=False)  # fmt: skip


def test_forced_bfloat16_trains_with_bfloat16_compute_and_float32_state(digits):
    mixed = build_model("mlp", digits.input_shape, 10, settings={"widths": (16,)},
                        mixed_precision=True)  # fmt: skip
    plain = build_model("mlp", digits.input_shape, 10, settings={"widths": (16,)})
    assert mixed.compute_dtype == "bfloat16" and mixed.variable_dtype == "float32"
    assert {layer.compute_dtype for layer in mixed.factory.layers} == {"bfloat16"}
    assert plain.compute_dtype == "float32"
    trainer = Trainer(mixed, digits, TrainConfig(mixed_precision=True, **CFG))
    reference = Trainer(plain, digits, TrainConfig(**CFG))
    result = trainer.fit(HP, [3])
    reference.fit(HP, [3])
    assert result.status == ["done"] and result.steps == 4
    assert {v.dtype for v in mixed.variables} == {"float32"}
    assert trainer.mixed_precision is True
    x = tf.constant(digits.x_val[None, :64])
    hp = {k: tf.constant(v, tf.float32) for k, v in HP.items()}
    assert mixed(x, hp=hp).dtype == tf.float32  # logits cast back to float32
    probs, ref_probs = trainer.predict(digits.x_val, HP), reference.predict(digits.x_val, HP)
    assert probs.dtype == np.float32 and probs.shape == ref_probs.shape
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    # same init and data: bfloat16 (8 mantissa bits) moves the probabilities, but not far
    gap = np.abs(probs - ref_probs).max()
    assert 1e-4 < gap < 0.05


def test_a_model_built_without_the_configured_precision_is_refused(digits):
    model = build_model("mlp", digits.input_shape, 10, settings={"widths": (8,)})
    with pytest.raises(ValueError, match="mixed_precision resolves to True"):
        Trainer(model, digits, TrainConfig(mixed_precision=True, progress=False))
