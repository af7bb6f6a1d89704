"""AMPere multi-branch model: configs, model, loss, data, training, evaluation, ONNX export and runtime.

Import submodules directly (``from encoders.runtime import Embedder``); this package import stays light
so the ONNX runtime path does not pull in torch.
"""

DOMAINS = ("page", "video", "live")
