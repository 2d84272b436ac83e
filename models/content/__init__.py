"""Content encoders: HuBERT base / ContentVec (RVC's ``hubert_base.pt``) without fairseq.

``load_content_encoder(path).extract(wav16k [B, N], layer, final_proj) -> [B, T, C]``: layer 9 +
``final_proj`` (256 dims) for RVC v1, layer 12 (768 dims) for v2, at 50 frames/s.
"""

from .hubert import Hubert, HubertConfig
from .loader import ContentEncoder, load_content_encoder

__all__ = ["ContentEncoder", "Hubert", "HubertConfig", "load_content_encoder"]
