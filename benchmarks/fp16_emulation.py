"""Float16 emulated on a CPU: what a GPU's float16 kernels make of a :func:`to_half` model.

onnxruntime's CPU provider runs a float16 graph in float32 without rounding the activations in
between, which hides float16's effect. :func:`emulate_fp16` keeps it, so that
``fp16_accuracy.py`` (and the tests) can measure float16's error on a machine without a GPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ganedit.export.half import UniqueNames, check_fp16_model, require_onnx, value_types

if TYPE_CHECKING:
    import onnx

__all__ = ["emulate_fp16"]


def emulate_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float32 model that computes what a float16 model does, for CPUs without fp16 kernels.

    Every float16 weight becomes the same value in float32, and every float16 activation is
    rounded to float16 and back as soon as it is produced. Arithmetic inside each op is
    float32, as in GPU kernels that accumulate in float32. onnxruntime's CPU provider runs a
    float16 graph in float32 without rounding the activations in between, which hides
    float16's effect; this keeps it. For tests and benchmarks.

    Args:
        model: A float16 model from :func:`to_half`.

    Returns:
        The emulating float32 model (same inputs and outputs).
    """
    onnx = require_onnx()
    FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    types = value_types(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph

    def widen(tensor: onnx.TensorProto) -> onnx.TensorProto:
        values = onnx.numpy_helper.to_array(tensor).astype(np.float32)
        return onnx.numpy_helper.from_array(values, tensor.name)

    for i, tensor in enumerate(graph.initializer):
        if tensor.data_type == FLOAT16:
            graph.initializer[i].CopyFrom(widen(tensor))
    names = UniqueNames(graph)
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        for attr in node.attribute:
            if attr.name == "to" and attr.i == FLOAT16:
                attr.i = FLOAT
            elif attr.name == "value" and attr.t.data_type == FLOAT16:
                attr.t.CopyFrom(widen(attr.t))
        nodes.append(node)
        if node.op_type in ("Constant", "ConstantOfShape"):
            continue  # exact already
        for i, name in enumerate(node.output):
            if types.get(name) != FLOAT16:
                continue
            raw = names.new(f"{name}_unrounded")
            node.output[i] = raw
            half = names.new(f"{name}_rounded")
            nodes.append(onnx.helper.make_node("Cast", [raw], [half], to=FLOAT16))
            nodes.append(onnx.helper.make_node("Cast", [half], [name], to=FLOAT))
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    check_fp16_model(out)
    return out
