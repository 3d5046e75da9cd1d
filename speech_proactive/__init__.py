"""speech_proactive: simultaneous speech translation and streaming spoken interaction with LLMs."""

from speech_proactive.config import DecodeOptions, EncoderConfig, ModelConfig, TaskSpec
from speech_proactive.model.bundle import load_model, save_bundle
from speech_proactive.streaming.session import Session

__all__ = ["load_model", "save_bundle", "Session", "ModelConfig", "EncoderConfig", "TaskSpec", "DecodeOptions"]
__version__ = "0.1.0"
