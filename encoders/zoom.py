"""Zoom on the product of a live frame, inside the model (and so inside its ONNX graph).

A live frame shows the product small beside a host (70x80 px of 640x360 in the benchmark): squared to the
backbone's 224 px it covers about one cell of the 7x7 feature map, too little to tell look-alikes apart,
whatever the pooling. So the visual tower of a zoom config (``ModelConfig.visual_zoom``) takes the frame
at twice the backbone's side (squashed, the whole frame), and for live rows:

1. locate: the frame halved to the backbone's side (``halve``: exact 2x2 averaging) runs through the
   backbone; a locator (an attention-score head, taught with the generator's boxes in training) scores the
   cells, and the heaviest cell's centre is where the product is (``locate``);
2. describe: a square of the frame around that point (its side a share of the frame's height), resampled
   from the full-resolution input to the backbone's side (``zoom_crop``), runs through the backbone again;
   that is what the pooling and the heads see, as they see a page.

Pages and videos are described whole (halved). Training cuts the same crops around the truth boxes with
the same function (jittered), so the two agree; serving needs no boxes. Only ops ONNX opset 17 has:
AveragePool, ArgMax, GridSample.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def halve(x: torch.Tensor) -> torch.Tensor:
    """[N, C, S, S] -> [N, C, S/2, S/2], each pixel the mean of 2x2 (an alias-free downscale)."""
    return F.avg_pool2d(x, 2)


def locate(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell weights [N, h, w] -> (cx, cy) [N], the normalised centre of each map's heaviest cell."""
    n, h, w = weights.shape
    idx = weights.reshape(n, h * w).argmax(dim=1)
    cy = (torch.div(idx, w, rounding_mode="floor").to(weights.dtype) + 0.5) / h
    cx = ((idx % w).to(weights.dtype) + 0.5) / w
    return cx, cy


def zoom_crop(
    x: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, side_x: float, side_y: float, size: int
) -> torch.Tensor:
    """From x [N, C, H, W], the rectangle of side_x x side_y (shares of the width and height) centred on
    (cx, cy) [N] (normalised), moved inside the frame where it would stick out, resampled bilinearly to
    [N, C, size, size]. The sampling grid is built by hand (no affine_grid, which opset 17 lacks)."""
    n = x.shape[0]
    cx = cx.to(x.dtype).clamp(side_x / 2, 1 - side_x / 2)
    cy = cy.to(x.dtype).clamp(side_y / 2, 1 - side_y / 2)
    # output pixel centres in [-1, 1] -> input coordinates (align_corners=False convention)
    u = (torch.arange(size, dtype=x.dtype, device=x.device) * 2 + 1) / size - 1
    gx = side_x * u.view(1, 1, size) + (2 * cx - 1).view(n, 1, 1)
    gy = side_y * u.view(1, size, 1) + (2 * cy - 1).view(n, 1, 1)
    grid = torch.stack([gx.expand(n, size, size), gy.expand(n, size, size)], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def box_centres(boxes, default: float = 0.5) -> torch.Tensor:
    """float [M, 4] boxes (x0, y0, x1, y1; NaN rows = none) -> [M, 2] centres, ``default`` where none."""
    import numpy as np

    b = torch.as_tensor(np.asarray(boxes, np.float32)).reshape(-1, 4)
    c = torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], dim=1)
    return torch.nan_to_num(c, nan=default)
