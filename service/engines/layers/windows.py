"""Sliding windows over a batch of images [N, C, H, W]: what `conv2d` and the pools share.

A window of kh × kw entries, `dilation` apart, slides over the padded input by `stride`,
stopping at the last position that fits (torch's floor mode). Entry (i, j) of every window at
once is one strided slice of the padded input, so a layer loops over the kh × kw kernel
offsets, each step vectorised over the batch, the channels and the window positions:
reading the slices gathers the windows (im2col); adding gradients into the same slices sends
each back to the input entry it came from (col2im).
"""

from __future__ import annotations

import numpy as np

from service.engines.layers.base import Array, Shape, ShapeError, shape_text

Pair = tuple[int, int]  # (height, width), as torch's `_pair` makes of an int
Index = tuple[slice, slice, slice, slice]  # into a padded batch [N, C, Hp, Wp]


def span(kernel: int, dilation: int) -> int:
    """How many input entries one window covers along an axis, gaps included."""
    return dilation * (kernel - 1) + 1


def output_length(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Window positions along an axis of `size` padded by `padding` on both sides."""
    return (size + 2 * padding - span(kernel, dilation)) // stride + 1


def check_rank(kind: str, shape: Shape, expected: str, field: str) -> None:
    """A ShapeError unless one sample is 3-D [C, H, W]; `expected` says what the layer takes."""
    if len(shape) != 3:
        raise ShapeError(
            f"{kind} takes {expected} but gets {shape_text(shape)}: one sample is "
            "channels × height × width",
            field,
        )


def positions(
    kind: str, shape: Shape, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Pair:
    """(oh, ow): the window's positions on one sample [C, H, W]; a ShapeError naming
    `kernel_size` if the window does not fit in the padded input even once."""
    _, height, width = shape
    padded = (height + 2 * padding[0], width + 2 * padding[1])
    spans = (span(kernel[0], dilation[0]), span(kernel[1], dilation[1]))
    if spans[0] > padded[0] or spans[1] > padded[1]:
        window = f"kernel_size {kernel}"
        if dilation != (1, 1):
            window += f" with dilation {dilation} spans {spans[0]}×{spans[1]}, which"
        raise ShapeError(
            f"{kind}'s {window} is larger than its input {shape_text(shape)} padded by "
            f"{padding} to {padded[0]}×{padded[1]}: the window must fit in the padded input "
            "at least once",
            "kernel_size",
        )
    return (
        output_length(height, kernel[0], stride[0], padding[0], dilation[0]),
        output_length(width, kernel[1], stride[1], padding[1], dilation[1]),
    )


def pad(x: Array, padding: Pair, value: float = 0.0) -> Array:
    """x [N, C, H, W] with `padding` rows and columns of `value` on every side."""
    ph, pw = padding
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def unpad(xp: Array, padding: Pair) -> Array:
    """The inverse of `pad`: the entries that came from x."""
    ph, pw = padding
    return xp[:, :, ph : xp.shape[2] - ph, pw : xp.shape[3] - pw]


def window_entries(kernel: Pair, stride: Pair, dilation: Pair, output: Pair) -> list[Index]:
    """For each kernel offset (i, j), row-major: where entry (i, j) of every window sits in the
    padded input, as one strided slice; `xp[index]` is [N, C, oh, ow]."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, output
    everything = slice(None)
    return [
        (
            everything,
            everything,
            slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (ow - 1) + 1, sw),
        )
        for i in range(kh)
        for j in range(kw)
    ]
