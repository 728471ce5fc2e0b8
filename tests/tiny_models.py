"""A tiny TFLite model that is not an object detector: a segmenter-shaped model with labels.

Built with the TFLite flatbuffer schema that ships inside the mediapipe wheel (its metadata
writers need a native module the wheel lacks): one 1x1 convolution from an 8x8 RGB image to a
mask of 21 classes, with a label file packed on the end as MediaPipe models carry theirs (a zip).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import flatbuffers
import numpy as np
from mediapipe.tasks.metadata import schema_py_generated as schema

# Pascal VOC's segmentation classes, as a DeepLab model lists them.
LABELS = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
          "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tv")


def _buffer(data: np.ndarray | None = None) -> schema.BufferT:
    buffer = schema.BufferT()
    buffer.data = None if data is None else data.tobytes()
    return buffer


def _tensor(name: str, shape: list[int], buffer: int) -> schema.TensorT:
    tensor = schema.TensorT()
    tensor.name, tensor.shape, tensor.buffer, tensor.type = name.encode(), shape, buffer, schema.TensorType.FLOAT32
    return tensor


def segmentation_model(path: Path) -> Path:
    """Write the tiny segmenter to `path` and return it."""
    model = schema.ModelT()
    model.version = 3
    classes = len(LABELS)
    model.buffers = [_buffer(), _buffer(), _buffer(np.full((classes, 1, 1, 3), 0.1, np.float32)),
                     _buffer(np.zeros(classes, np.float32)), _buffer()]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CONV_2D
    code.version = 1
    model.operatorCodes = [code]
    conv = schema.OperatorT()
    conv.opcodeIndex, conv.inputs, conv.outputs = 0, [0, 1, 2], [3]
    conv.builtinOptionsType = schema.BuiltinOptions.Conv2DOptions
    options = schema.Conv2DOptionsT()
    options.padding, options.strideW, options.strideH = schema.Padding.SAME, 1, 1
    conv.builtinOptions = options
    graph = schema.SubGraphT()
    graph.tensors = [_tensor("image", [1, 8, 8, 3], 1), _tensor("weights", [classes, 1, 1, 3], 2),
                     _tensor("bias", [classes], 3), _tensor("mask", [1, 8, 8, classes], 4)]
    graph.inputs, graph.outputs, graph.operators = [0], [3], [conv]
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    with zipfile.ZipFile(path, "a") as packed:
        packed.writestr("labels.txt", "\n".join(LABELS) + "\n")
    return path
