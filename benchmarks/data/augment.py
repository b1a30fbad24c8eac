"""CIFAR train-time augmentation (pad + random crop + random horizontal flip), stateless.

As in the paper's released code (google/uncertainty-baselines, baselines/cifar/utils.py
`load_dataset` and uncertainty_baselines/datasets/cifar.py, train split only): every image is
padded by 2 pixels per side (`tf.image.resize_with_crop_or_pad(image, 32 + 4, 32 + 4)`), randomly
cropped back to 32 x 32 (`random_crop`: 5 x 5 possible offsets) and flipped left-right with
probability 1/2 (`random_flip_left_right`). The released code pads the *uint8* image, i.e. with
black pixels, before normalising; our images are already normalised, so the padding value is
black in normalised space, `CIFAR_FILL` = (0 - mean) / std per channel (the value a raw 0 pixel
gets in `benchmarks.data.tfds_sets`), not zero (which would be the mean colour).

Everything is drawn with stateless random ops from an explicit seed, so the same seed gives the
same batch (also inside a `tf.function`, on any run). Each image gets its own crop offset and
flip. The crop and flip are one pair of `tf.gather`s on the padded batch (exact pixels, no
resampling), which is cheaper than mapping `tf.image.stateless_random_crop` over the images.
"""

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from benchmarks.data.base import standardise
from benchmarks.data.tfds_sets import CIFAR_MEAN, CIFAR_STD

# uncertainty_baselines/datasets/cifar.py: "Expand the image by 2 pixels, then crop back down".
CIFAR_PAD = 2
# A raw 0 (black) pixel after the CIFAR normalisation, per channel, as float32.
CIFAR_FILL = tuple(
    float(v) for v in standardise(np.zeros(3, np.uint8), CIFAR_MEAN, CIFAR_STD, scale=255.0)
)

Fill = float | Sequence[float]


def _draws(seed: tf.Tensor, batch: tf.Tensor, pad: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-image crop offsets `(B, 2)` in `[0, 2 * pad]` and flip decisions `(B,)` from `seed`."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    offsets = tf.random.stateless_uniform(
        tf.stack([batch, 2]), seed=crop_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32
    )
    flips = tf.random.stateless_uniform(tf.reshape(batch, [1]), seed=flip_seed) < 0.5
    return offsets, flips


def _pad(images: tf.Tensor, pad: int, fill: Fill) -> tf.Tensor:
    """`(B, H, W, C)` -> `(B, H + 2 pad, W + 2 pad, C)`, the border set to `fill` (a scalar or
    one value per channel), the inside exactly `images`."""
    if pad == 0:
        return images
    fill = np.asarray(fill, np.float64).reshape(-1)
    channels = images.shape[-1]
    if fill.size != 1 and channels is not None and fill.size != channels:
        raise ValueError(f"fill needs 1 or {channels} values (one per channel), got {fill.size}")
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    if not np.any(fill):
        return padded
    shape = tf.shape(images)
    inside = tf.pad(tf.ones(shape[1:3], tf.bool), [[pad, pad], [pad, pad]])[None, :, :, None]
    border = tf.broadcast_to(tf.constant(fill, images.dtype), tf.shape(padded)[-1:])
    return tf.where(inside, padded, border)


def _crop_flip(
    images: tf.Tensor, offsets: tf.Tensor, flips: tf.Tensor, pad: int, fill: Fill
) -> tf.Tensor:
    """Crop `(B, H, W, C)` images at `offsets` of their `pad`-padded version, flip where `flips`."""
    shape = tf.shape(images)
    height = images.shape[1] if images.shape[1] is not None else shape[1]
    width = images.shape[2] if images.shape[2] is not None else shape[2]
    padded = _pad(images, pad, fill)
    rows = offsets[:, :1] + tf.range(height)[None, :]  # (B, H) rows of the padded image
    cols = tf.where(
        flips[:, None],
        offsets[:, 1:] + tf.range(width - 1, -1, -1)[None, :],  # mirrored window
        offsets[:, 1:] + tf.range(width)[None, :],
    )  # (B, W)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2 pad, C)
    out = tf.gather(out, cols, axis=2, batch_dims=1)  # (B, H, W, C)
    return tf.ensure_shape(out, images.shape)


def augment_cifar(
    images: tf.Tensor, seed: tf.Tensor, pad: int = CIFAR_PAD, fill: Fill = CIFAR_FILL
) -> tf.Tensor:
    """Pad by `pad` pixels per side (value `fill`), random-crop back to H x W and random-flip
    each image of a batch.

    `images`: `(B, H, W, C)`; `seed`: int32 `(2,)`; `fill`: a scalar or one value per channel
    (default: black under the CIFAR normalisation). Same seed, same output; the output has the
    input's shape and dtype. `pad=0` leaves only the flips.
    """
    images = tf.convert_to_tensor(images)
    seed = tf.cast(seed, tf.int32)
    offsets, flips = _draws(seed, tf.shape(images)[0], pad)
    return _crop_flip(images, offsets, flips, pad, fill)


def augment_cifar_pack(
    images: tf.Tensor, seeds: tf.Tensor, pad: int = CIFAR_PAD, fill: Fill = CIFAR_FILL
) -> tf.Tensor:
    """`augment_cifar` for a pack: `images` `(P, B, H, W, C)`, `seeds` int32 `(P, 2)`.

    Member `p` draws only from `seeds[p]`: its output equals
    `augment_cifar(images[p], seeds[p], pad, fill)`, so a trial's augmentation does not depend on
    the pack it trains in.
    """
    images = tf.convert_to_tensor(images)
    seeds = tf.cast(seeds, tf.int32)
    shape = tf.shape(images)
    packs, batch = shape[0], shape[1]
    offsets, flips = tf.map_fn(
        lambda s: _draws(s, batch, pad),
        seeds,
        fn_output_signature=(tf.TensorSpec([None, 2], tf.int32), tf.TensorSpec([None], tf.bool)),
    )  # only the small draws are mapped; the gather runs once on the whole pack
    flat = tf.reshape(images, tf.concat([[packs * batch], shape[2:]], axis=0))
    flat = tf.ensure_shape(flat, [None, *images.shape[2:]])
    out = _crop_flip(flat, tf.reshape(offsets, [-1, 2]), tf.reshape(flips, [-1]), pad, fill)
    return tf.ensure_shape(tf.reshape(out, shape), images.shape)


def pack_augmentation(name: str | None) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None:
    """The pack augmentation `(images (P, B, ...), seeds (P, 2)) -> images` that a dataset's
    `Splits.augment` names (`None`: none)."""
    return {None: None, "cifar": augment_cifar_pack}[name]
