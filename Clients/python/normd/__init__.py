"""normd-client: the trainer's side of the normd normalization sidecar.

- :class:`Producer` sends rows (with ``seq`` and ``producer``) and never loses its tail on close;
- :class:`Consumer` yields :class:`Batch` objects (zero-copy rows, header, ``take`` for labels);
- :func:`normd.state.load` reads saved statistics; :func:`to_torch_state_dict`,
  :func:`to_keras_weights` and :func:`to_sklearn` turn a stage into a framework's object;
- ``normd.torch.BatchStream`` is a PyTorch ``IterableDataset`` (needs torch);
- ``python -m normd tail ENDPOINT`` shows a stream.

The stock pyzmq + NumPy recipe (Docs/PROTOCOL.md) stays enough; this package is a convenience.
"""

from . import state
from ._version import __version__
from .consumer import Batch, Consumer, NoHeaderError, decode_frames
from .convert import ConversionError, to_keras_weights, to_sklearn, to_torch_state_dict
from .producer import Producer

__all__ = ["__version__", "Producer", "Consumer", "Batch", "NoHeaderError", "decode_frames", "state",
           "ConversionError", "to_torch_state_dict", "to_keras_weights", "to_sklearn"]
