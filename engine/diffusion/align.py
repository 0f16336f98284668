"""Data-noise alignment (TPDiff Alg. 1): give each clip of a batch the noise sample nearest to it, so that the
"noise constant within a stage" assumption of stage-wise training nearly holds (the pairing is the
optimal transport plan between the batch's clips and its noise draws)."""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment


def align_noise(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Permute `noise` along the batch so that Σ_i ‖x0_i − noise_i‖² is least (Hungarian assignment)."""
    if x0.shape != noise.shape:
        raise ValueError(f"clips {tuple(x0.shape)} and noise {tuple(noise.shape)} differ in shape")
    cost = torch.cdist(x0.flatten(1).double(), noise.flatten(1).double()).pow(2)  # b b
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return noise[torch.as_tensor(cols[rows.argsort()], device=noise.device)]
