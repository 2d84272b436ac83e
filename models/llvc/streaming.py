"""Streaming LLVC: the reference procedure for parity, and a fast realtime path with explicit state.

Two streaming semantics exist and both are offered:

* **reference windows** (``stream_reference``, and :meth:`FastLLVC.step_window`): each call gets
  ``2L`` samples of front context plus ``k * dec_chunk_size * L`` new samples, exactly as the
  reference ``infer_stream``. Its pre-net cache holds the end of the previous *window* although the
  next window restarts ``2L`` samples earlier, so the output differs from the whole-signal forward.
* **realtime** (:meth:`FastLLVC.step`): each call gets only the new samples; the pre-net runs once
  per sample and the ``2L`` samples of context come from the state. The concatenated output equals
  the whole-signal forward of the input delayed by ``L`` samples, so the algorithmic delay beyond
  one hop of buffering is exactly ``L`` samples (``LLVCVoice.latency``).

The fast path keeps features time-major (``[T, C]``), caches the constant label embedding, folds it
into the projections, and keeps the decoder's context as key/value projections (the positional term
is added as a precomputed constant), so each chunk projects only its new frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.llvc.net import LN_EPS, LLVCNet

ENC_SLACK = 64
"""Spare encoder-buffer frames beyond 4x the context: compaction happens every few calls."""


@dataclass
class StreamState:
    """Everything the fast path carries between calls (batch 1, time-major).

    ``prenet [1, C, sum(buf)]`` pre-net context; ``x_hist [2L]`` tail of the pre-net output
    (realtime mode); ``enc`` one ``[rows, enc_dim]`` buffer per encoder layer whose frames
    ``enc_pos[i] - 2 * 2**i .. enc_pos[i]`` are that layer's context (a linear buffer compacted
    now and then, so a step copies only its new frames); ``self_kv``/``cross_kv``
    ``[layers, dec_buf_len, 2 * dec_dim]`` key/value projections of the context frames (without
    positional term and bias); ``out [out_buf_len, enc_dim]`` masked frames for ``out_conv``.
    """

    prenet: Tensor
    x_hist: Tensor
    enc: list[Tensor]
    enc_pos: list[int]
    self_kv: Tensor
    cross_kv: Tensor
    out: Tensor
    fresh: bool = True
    """No call yet: the realtime path primes its context on the first call."""


@dataclass(frozen=True)
class _DecoderLayerWeights:
    wq: Tensor  # [d, d] transposed
    bq: Tensor
    wkv: Tensor  # [d, 2d] transposed
    kv_const: Tensor  # [S, 2d]: positional term (layer 0 / cross) + bias
    wo: Tensor
    bo: Tensor
    cwq: Tensor
    cbq: Tensor
    cwkv: Tensor
    ckv_const: Tensor
    cwo: Tensor
    cbo: Tensor
    w1: Tensor
    b1: Tensor
    w2: Tensor
    b2: Tensor
    norms: tuple[tuple[Tensor, Tensor], ...]


class _NumpyPrenet:
    """The gated residual pre-net on one channel in numpy: ~12 tiny layers, so per-op overhead rules.

    Same semantics as :class:`models.llvc.net.CachedConvNet` with its skip rule (each layer keeps
    ``(k-1)*d`` samples of its input in ``ctx``); float32 throughout.
    """

    def __init__(self, net: LLVCNet) -> None:
        cfg = net.cfg.convnet_config
        p = net.state_dict()
        self.layers = []
        start = 0
        for i, (k, d) in enumerate(zip(cfg.kernel_sizes, cfg.dilations, strict=True)):
            key = f"convnet_pre.down_convs.{i}."
            n = (k - 1) * d
            kernels = []
            for part in ("filter", "gate"):
                dil = np.zeros(n + 1, np.float32)
                dil[::d] = p[key + part + ".weight"].reshape(-1).numpy()
                kernels.append((dil, np.float32(p[key + part + ".bias"].item())))
            self.layers.append((start, n, kernels[0], kernels[1]))
            start += n
        self.combine = cfg.combine_residuals
        self.skip = cfg.skip_connection

    @staticmethod
    def supports(net: LLVCNet) -> bool:
        cfg = net.cfg.convnet_config
        return net.has_prenet and cfg.use_residual_blocks and set(cfg.out_channels) == {1}

    def __call__(self, x: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        """``x [n]`` float32, ``ctx [sum(buf)]`` (updated in place) -> pre-net output ``[n]``."""
        h = x
        for start, n, (wf, bf), (wg, bg) in self.layers:
            conv_in = np.concatenate((ctx[start : start + n], h)) if n else h
            if n:
                ctx[start : start + n] = conv_in[conv_in.shape[0] - n :]
            f = np.tanh(np.correlate(conv_in, wf, "valid") + bf)
            g = np.correlate(conv_in, wg, "valid") + bg
            y = conv_in[n:] + f / (np.float32(1.0) + np.exp(-g))
            if self.combine == "add":
                h = h + y
            elif self.combine == "multiply":
                h = h * y
            else:
                h = y
        if self.skip == "add":
            return x + h
        if self.skip == "multiply":
            return x * h
        return h


class FastLLVC:
    """Precomputed, allocation-light streaming inference for one :class:`LLVCNet` (CPU, batch 1)."""

    def __init__(self, net: LLVCNet) -> None:
        if not net.cfg.lookahead:
            from models.errors import ModelFormatError

            raise ModelFormatError(
                "LLVC streaming needs a model built with lookahead (the published one is)."
            )
        self.net = net
        self.cfg = cfg = net.cfg
        with torch.inference_mode():
            self._prepare(net)
        self.np_prenet = _NumpyPrenet(net) if _NumpyPrenet.supports(net) else None
        self.chunk_len = cfg.chunk_len
        self.context = 2 * cfg.L

    @staticmethod
    def _t(x: Tensor) -> Tensor:
        return x.detach().clone().contiguous()

    def _prepare(self, net: LLVCNet) -> None:
        cfg, t = self.cfg, self._t
        p = net.state_dict()
        self.label = t(net.label(1)[0])  # constant: the label is always zero
        self.w_in = t(p["in_conv.0.weight"][:, 0, :].T)  # [3L, C]
        self.enc_layers = []
        for i in range(cfg.num_enc_layers):
            k = f"mask_gen.encoder.dcc_layers.dcc_{i}.layers."
            self.enc_layers.append(
                (
                    2**i,
                    t(p[k + "0.weight"][:, 0, :].T),  # depthwise taps [3, C]
                    t(p[k + "0.bias"]),
                    (t(p[k + "1.weight"]), t(p[k + "1.bias"])),
                    t(p[k + "3.weight"][:, :, 0].T),  # pointwise [C, C]
                    t(p[k + "3.bias"]),
                    (t(p[k + "4.weight"]), t(p[k + "4.bias"])),
                )
            )
        self.enc_hist = [2 * 2**i for i in range(cfg.num_enc_layers)]
        if cfg.proj:
            d, k = cfg.dec_dim, "mask_gen."
            lab = self.label.view(d, 2)
            self.pe_w = t(p[k + "proj_e2d_e.0.weight"].view(d, 2))
            self.pe_b = t(p[k + "proj_e2d_e.0.bias"])
            self.pl_w = t(p[k + "proj_e2d_l.0.weight"].view(d, 2) * lab)  # label folded in
            self.pl_b = t(p[k + "proj_e2d_l.0.bias"])
            self.pd_w = t(p[k + "proj_d2e.0.weight"].view(d, 2))
            self.pd_b = t(p[k + "proj_d2e.0.bias"].view(d, 2))
        S = cfg.dec_buf_len + cfg.dec_chunk_size
        pe = p["mask_gen.decoder.pos_enc.pe"][0, :S] if cfg.use_pos_enc else torch.zeros(S, cfg.dec_dim)
        self.pe = t(pe)
        self.dec_layers = [self._decoder_weights(p, i) for i in range(cfg.num_dec_layers)]
        self.w_out = t(p["out_conv.0.weight"][:, 0, :])  # [C, (out_buf_len + 1) * L]

    def _decoder_weights(self, p: dict[str, Tensor], index: int) -> _DecoderLayerWeights:
        t, d, pe = self._t, self.cfg.dec_dim, self.pe
        k = f"mask_gen.decoder.tf_dec_layers.{index}."
        w, b = p[k + "self_attn.in_proj_weight"], p[k + "self_attn.in_proj_bias"]
        cw, cb = p[k + "multihead_attn.in_proj_weight"], p[k + "multihead_attn.in_proj_bias"]
        tgt_pe = pe if index == 0 else torch.zeros_like(pe)
        return _DecoderLayerWeights(
            wq=t(w[:d].T),
            bq=t(b[:d]),
            wkv=t(w[d:].T),
            kv_const=t(tgt_pe @ w[d:].T + b[d:]),
            wo=t(p[k + "self_attn.out_proj.weight"].T),
            bo=t(p[k + "self_attn.out_proj.bias"]),
            cwq=t(cw[:d].T),
            cbq=t(cb[:d]),
            cwkv=t(cw[d:].T),
            ckv_const=t(pe @ cw[d:].T + cb[d:]),
            cwo=t(p[k + "multihead_attn.out_proj.weight"].T),
            cbo=t(p[k + "multihead_attn.out_proj.bias"]),
            w1=t(p[k + "linear1.weight"].T),
            b1=t(p[k + "linear1.bias"]),
            w2=t(p[k + "linear2.weight"].T),
            b2=t(p[k + "linear2.bias"]),
            norms=tuple((t(p[f"{k}norm{j}.weight"]), t(p[f"{k}norm{j}.bias"])) for j in (1, 2, 3)),
        )

    # ------------------------------------------------------------------ state

    def init_state(self) -> StreamState:
        """Zeroed buffers (the realtime path primes its pre-net context on its first call)."""
        cfg = self.cfg
        with torch.inference_mode():
            n_layers, d = cfg.num_dec_layers, cfg.dec_dim
            return StreamState(
                prenet=self.net.init_buffers(1).convnet,
                x_hist=torch.zeros(2 * cfg.L),
                enc=[torch.zeros(4 * n + ENC_SLACK, cfg.enc_dim) for n in self.enc_hist],
                enc_pos=list(self.enc_hist),
                self_kv=torch.zeros(n_layers, cfg.dec_buf_len, 2 * d),
                cross_kv=torch.zeros(n_layers, cfg.dec_buf_len, 2 * d),
                out=torch.zeros(cfg.out_buf_len, cfg.enc_dim),
            )

    # ------------------------------------------------------------------ steps

    def _prenet(self, x: np.ndarray, state: StreamState) -> Tensor:
        """Pre-net with the state's cache: ``x [n]`` float32 -> ``[n]``."""
        if self.np_prenet is not None:
            return torch.from_numpy(self.np_prenet(x, state.prenet.numpy()[0, 0]))
        y, state.prenet = self.net.prenet(torch.from_numpy(x).view(1, 1, -1), state.prenet)
        return y.view(-1)

    def step(self, x: np.ndarray, state: StreamState) -> Tensor:
        """Realtime: ``x [k * chunk_len]`` new samples -> ``[k * chunk_len]`` (state updated in place)."""
        if state.fresh:
            # The whole-signal forward starts with 2L zeros of padding through the pre-net.
            state.x_hist.copy_(self._prenet(np.zeros(self.context, np.float32), state))
            state.fresh = False
        window = torch.cat((state.x_hist, self._prenet(x, state)))
        state.x_hist.copy_(window[window.shape[0] - self.context :])
        return self._core(window, state)

    def step_window(self, window: np.ndarray, state: StreamState) -> Tensor:
        """Reference semantics: ``window [2L + k * chunk_len]`` -> ``[k * chunk_len]``."""
        state.fresh = False
        return self._core(self._prenet(window, state), state)

    def _core(self, window: Tensor, state: StreamState) -> Tensor:
        L = self.cfg.L
        frames = F.relu(window.unfold(0, 3 * L, L) @ self.w_in)  # [T, C]
        e = self._encode(frames, state)
        lab = e * self.label
        if self.cfg.proj:
            e2 = e.view(-1, self.cfg.dec_dim, 2)
            mem = F.relu((e2 * self.pe_w).sum(-1) + self.pe_b)
            tgt = F.relu((e2 * self.pl_w).sum(-1) + self.pl_b)
            m = self._decode(tgt, mem, state)
            m = F.relu(m.unsqueeze(-1) * self.pd_w + self.pd_b).view(m.shape[0], -1)
        else:
            m = self._decode(lab, e, state)
        if self.cfg.skip_connection:
            m = m + lab
        return self._output(frames * m, state.out)

    @staticmethod
    def _push(state: StreamState, i: int, n: int, x: Tensor) -> tuple[Tensor, int]:
        """Append ``x [T, C]`` to layer ``i``'s buffer (``n`` context frames); returns (buffer, start)."""
        buf, pos, T = state.enc[i], state.enc_pos[i], x.shape[0]
        if pos + T > buf.shape[0]:
            if pos >= 2 * n and n + T <= buf.shape[0]:
                buf[:n].copy_(buf[pos - n : pos])  # the slices do not overlap
            else:  # a longer call than planned for: grow once
                grown = torch.zeros(4 * n + T + ENC_SLACK, buf.shape[1])
                grown[:n].copy_(buf[pos - n : pos])
                buf = state.enc[i] = grown
            pos = n
        buf[pos : pos + T].copy_(x)
        state.enc_pos[i] = pos + T
        return buf, pos

    def _encode(self, x: Tensor, state: StreamState) -> Tensor:
        T, C = x.shape
        for i, (dil, dw_w, dw_b, ln1, pw_w, pw_b, ln2) in enumerate(self.enc_layers):
            buf, pos = self._push(state, i, 2 * dil, x)
            h = torch.addcmul(dw_b, buf[pos - 2 * dil : pos - 2 * dil + T], dw_w[0])
            h.addcmul_(buf[pos - dil : pos - dil + T], dw_w[1]).addcmul_(buf[pos : pos + T], dw_w[2])
            h = F.layer_norm(h, (C,), ln1[0], ln1[1], LN_EPS).relu_()
            h = F.layer_norm(torch.addmm(pw_b, h, pw_w), (C,), ln2[0], ln2[1], LN_EPS).relu_()
            x = h.add_(x)
        return x

    def _windows(self, hist: Tensor, new: Tensor) -> Tensor:
        """Context ``[ctx, D]`` + new ``[W*chunk, D]`` -> windows ``[W, ctx + chunk, D]`` (hist updated)."""
        ctx, chunk = self.cfg.dec_buf_len, self.cfg.dec_chunk_size
        seq = torch.cat((hist, new))
        if ctx:
            hist.copy_(seq[seq.shape[0] - ctx :])
        return seq.unfold(0, ctx + chunk, chunk).transpose(1, 2)

    def _decode(self, tgt: Tensor, mem: Tensor, state: StreamState) -> Tensor:
        """``tgt, mem [T, d]`` (T a multiple of the decoder chunk) -> ``[T, d]``."""
        T, d = tgt.shape
        chunk, nhead = self.cfg.dec_chunk_size, self.cfg.nhead
        W = T // chunk
        pe_q = self.pe[self.pe.shape[0] - chunk :].repeat(W, 1) if self.cfg.use_pos_enc else None
        for i, lw in enumerate(self.dec_layers):
            # self-attention: queries are the new chunk, keys/values the whole window; the
            # positional term of the keys/values is part of the precomputed kv_const
            kv = self._windows(state.self_kv[i], tgt @ lw.wkv) + lw.kv_const
            if i == 0 and pe_q is not None:
                tgt = tgt + pe_q
            q = (torch.addmm(lw.bq, tgt, lw.wq)).view(W, chunk, d)
            a = _attention(q, kv, nhead)
            h = F.layer_norm(tgt + torch.addmm(lw.bo, a, lw.wo), (d,), *lw.norms[0], LN_EPS)
            ckv = self._windows(state.cross_kv[i], mem @ lw.cwkv) + lw.ckv_const
            q = torch.addmm(lw.cbq, h, lw.cwq).view(W, chunk, d)
            a = _attention(q, ckv, nhead)
            h = F.layer_norm(h + torch.addmm(lw.cbo, a, lw.cwo), (d,), *lw.norms[1], LN_EPS)
            ff = torch.addmm(lw.b2, F.relu(torch.addmm(lw.b1, h, lw.w1)), lw.w2)
            tgt = F.layer_norm(h + ff, (d,), *lw.norms[2], LN_EPS)
        return tgt

    def _output(self, x: Tensor, buf: Tensor) -> Tensor:
        """Masked frames ``[T, C]`` -> audio ``[T * L]`` (transposed conv as matmul + overlap-add)."""
        L, nb = self.cfg.L, self.cfg.out_buf_len
        T = x.shape[0]
        y = torch.cat((buf, x))
        if nb:
            buf.copy_(y[T:])
        taps = (y @ self.w_out).view(T + nb, nb + 1, L)
        out = taps[nb : T + nb, 0].clone()
        for q in range(1, nb + 1):
            out += taps[nb - q : T + nb - q, q]
        return torch.tanh_(out.view(-1))


def _attention(q: Tensor, kv: Tensor, nhead: int) -> Tensor:
    """``q [W, Q, d]``, ``kv [W, S, 2d]`` -> ``[W*Q, d]`` multi-head scaled dot-product attention."""
    W, Q, d = q.shape
    S, hd = kv.shape[1], d // nhead
    k, v = kv.split(d, dim=-1)
    qh = q.view(W, Q, nhead, hd).transpose(1, 2)
    kh = k.reshape(W, S, nhead, hd).transpose(1, 2)
    vh = v.reshape(W, S, nhead, hd).transpose(1, 2)
    out = F.scaled_dot_product_attention(qh, kh, vh)
    return out.transpose(1, 2).reshape(W * Q, d)


def stream_reference_net(net: LLVCNet, audio: Tensor, chunk_factor: int) -> Tensor:
    """The reference ``infer_stream`` on ``audio [N]`` -> ``[1, N]`` (reference modules and buffers)."""
    L = net.L
    chunk = net.dec_chunk_size * L * chunk_factor
    n = audio.shape[0]
    audio = F.pad(audio, (0, (-n) % chunk))
    shifted = torch.cat((audio[L:], torch.zeros(L, dtype=audio.dtype)))
    chunks = torch.split(shifted, chunk)
    buffers = net.init_buffers(1)
    outs = []
    with torch.inference_mode():
        for i, c in enumerate(chunks):
            front = torch.zeros(2 * L, dtype=audio.dtype) if i == 0 else chunks[i - 1][-2 * L :]
            y, buffers = net.forward_chunk(torch.cat((front, c)).view(1, 1, -1), buffers)
            outs.append(y)
    return torch.cat(outs, dim=-1)[0, :, :n]
