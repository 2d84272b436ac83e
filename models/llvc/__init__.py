"""LLVC (KoeAI low-latency voice conversion): config, network, streaming and the realtime voice."""

from models.llvc.config import DEFAULT_CONFIG, ConvNetConfig, LLVCConfig, load_config, sibling_config
from models.llvc.net import LLVCNet
from models.llvc.voice import LLVCOptions, LLVCVoice, load_voice, stream_reference

__all__ = [
    "DEFAULT_CONFIG",
    "ConvNetConfig",
    "LLVCConfig",
    "LLVCNet",
    "LLVCOptions",
    "LLVCVoice",
    "load_config",
    "load_voice",
    "sibling_config",
    "stream_reference",
]
