"""A small byte-level GPT for the tiny-LM tasks, with its parameter count and FLOPs per token.

Architecture (GPT-2 style, no dropout): token embedding (vocabulary 256) + learned positional
embedding (seq_len positions); n_layers pre-LN blocks, each x += attn(LN(x)); x += mlp(LN(x)),
with causal self-attention through ``torch.nn.functional.scaled_dot_product_attention`` and a
GELU MLP of width 4 d; a final LayerNorm; the output head shares the token embedding matrix
(weight tying, no bias). Linear layers have biases. Init: N(0, 0.02), residual output
projections scaled by 1/sqrt(2 n_layers) (GPT-2).

Heads (``default_heads``): head dimension 32 below d_model 256, 64 from 256 on
(d 64 -> 2 heads, 128 -> 4, 256 -> 4, 768 -> 12).

Non-embedding parameters (``non_embedding_params``; exactly the parameter count minus the token
and position embeddings; the tied head adds none):

    N = n_layers (12 d^2 + 13 d) + 2 d

(per block: qkv 3d^2+3d, attention output d^2+d, MLP 4d^2+4d and 4d^2+d, two LayerNorms 4d;
plus the final LayerNorm 2d). The Chinchilla / Step Law formulas use this N.

Training FLOPs per token (``flops_per_token``), Kaplan et al. 2020 (Table 1) convention:

    C = 6 N + 6 n_layers seq_len d

(forward 2N + 2 n_layers seq_len d for the matmuls and the attention scores/values, backward
twice the forward; no causal-mask discount; embeddings, the vocabulary projection, LayerNorms
and softmax are not counted, as in 6ND). The vocabulary projection would add 6 d 256 per token.
"""
from __future__ import annotations

import math

VOCAB = 256


def default_heads(d_model: int) -> int:
    """Head count for a width: head dimension 32 below d 256, 64 from 256 on."""
    head_dim = 32 if d_model < 256 else 64
    if d_model % head_dim:
        raise ValueError(f"d_model {d_model} must be a multiple of {head_dim}")
    return d_model // head_dim


def non_embedding_params(d_model: int, n_layers: int) -> int:
    """N = n_layers (12 d^2 + 13 d) + 2 d: parameters except the token and position embeddings."""
    return n_layers * (12 * d_model**2 + 13 * d_model) + 2 * d_model


def flops_per_token(d_model: int, n_layers: int, seq_len: int) -> int:
    """Training FLOPs per token, 6 N + 6 n_layers seq_len d (Kaplan et al. 2020)."""
    return 6 * non_embedding_params(d_model, n_layers) + 6 * n_layers * seq_len * d_model


def build_model(d_model: int, n_layers: int, seq_len: int, n_heads: int | None = None):
    """A `GPT` module (imports torch here so that importing this module stays cheap)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    n_heads = n_heads or default_heads(d_model)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
            self.qkv, self.proj = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
            self.fc, self.fc_out = nn.Linear(d_model, 4 * d_model), nn.Linear(4 * d_model, d_model)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, n_heads, d_model // n_heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d_model))
            return x + self.fc_out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.seq_len = seq_len
            self.tok = nn.Embedding(VOCAB, d_model)
            self.pos = nn.Embedding(seq_len, d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(n_layers))
            self.ln_f = nn.LayerNorm(d_model)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * n_layers) if name.endswith(("proj.weight", "fc_out.weight")) else 0.02
                    nn.init.normal_(p, 0.0, std)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)

        def forward(self, idx, targets=None):
            """Logits (b, t, 256), or the mean cross-entropy (nats per byte) when targets are given."""
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
            for block in self.blocks:
                x = block(x)
            logits = self.ln_f(x) @ self.tok.weight.t()
            if targets is None:
                return logits
            return F.cross_entropy(logits.float().view(-1, VOCAB), targets.reshape(-1))

    return GPT()
