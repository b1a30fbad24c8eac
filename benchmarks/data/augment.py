"""CIFAR train-time augmentation (pad + random crop + random horizontal flip), stateless.

Everything is drawn with stateless random ops from an explicit seed, so the same seed gives the
same batch (also inside a `tf.function`, on any run). Each image gets its own crop offset and
flip. Padding is with zeros in *normalised* space, i.e. with the per-channel dataset mean, not
black. The crop and flip are one pair of `tf.gather`s on the padded batch (exact pixels, no
resampling), which is cheaper than mapping `tf.image.stateless_random_crop` over the images.
"""

import tensorflow as tf


def _draws(seed: tf.Tensor, batch: tf.Tensor, pad: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-image crop offsets `(B, 2)` in `[0, 2 * pad]` and flip decisions `(B,)` from `seed`."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    offsets = tf.random.stateless_uniform(
        tf.stack([batch, 2]), seed=crop_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32
    )
    flips = tf.random.stateless_uniform(tf.reshape(batch, [1]), seed=flip_seed) < 0.5
    return offsets, flips


def _crop_flip(images: tf.Tensor, offsets: tf.Tensor, flips: tf.Tensor, pad: int) -> tf.Tensor:
    """Crop `(B, H, W, C)` images at `offsets` of their `pad`-padded version, flip where `flips`."""
    shape = tf.shape(images)
    height = images.shape[1] if images.shape[1] is not None else shape[1]
    width = images.shape[2] if images.shape[2] is not None else shape[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = offsets[:, :1] + tf.range(height)[None, :]  # (B, H) rows of the padded image
    cols = tf.where(
        flips[:, None],
        offsets[:, 1:] + tf.range(width - 1, -1, -1)[None, :],  # mirrored window
        offsets[:, 1:] + tf.range(width)[None, :],
    )  # (B, W)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2 pad, C)
    out = tf.gather(out, cols, axis=2, batch_dims=1)  # (B, H, W, C)
    return tf.ensure_shape(out, images.shape)


def augment_cifar(images: tf.Tensor, seed: tf.Tensor, pad: int = 4) -> tf.Tensor:
    """Pad by `pad` (zeros), random-crop back to H x W and random-flip each image of a batch.

    `images`: `(B, H, W, C)`; `seed`: int32 `(2,)`. Same seed, same output; the output has the
    input's shape and dtype. `pad=0` leaves only the flips.
    """
    images = tf.convert_to_tensor(images)
    seed = tf.cast(seed, tf.int32)
    offsets, flips = _draws(seed, tf.shape(images)[0], pad)
    return _crop_flip(images, offsets, flips, pad)


def augment_cifar_pack(images: tf.Tensor, seeds: tf.Tensor, pad: int = 4) -> tf.Tensor:
    """`augment_cifar` for a pack: `images` `(P, B, H, W, C)`, `seeds` int32 `(P, 2)`.

    Member `p` draws only from `seeds[p]`: its output equals `augment_cifar(images[p], seeds[p])`,
    so a trial's augmentation does not depend on the pack it trains in.
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
    out = _crop_flip(flat, tf.reshape(offsets, [-1, 2]), tf.reshape(flips, [-1]), pad)
    return tf.ensure_shape(tf.reshape(out, shape), images.shape)
