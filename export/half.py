"""float32 ONNX model -> float16 model for GPUs, with a float32 interface.

Weights and activations become float16; ops whose float16 result degrades the picture (by
default ``InstanceNormalization``, see ``benchmarks/RESULTS.md``) keep running in float32 between
Casts. The converted model still takes and returns float32, so the runtime feeds it as before;
the Casts to and from float16 sit just inside the graph's input and output.

fp16 is for CUDA only: onnxruntime's CPU provider has no float16 Conv on x86 and silently runs
such a graph in float32 behind inserted Casts. ``ganedit.load(..., half=True)`` refuses the CPU.

Needs the ``onnx`` package (``pip install 'ganedit[gpu]'``); it is imported when a function here
runs, not when this module is imported.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from ganedit.card import METADATA_KEY, ModelCard
from ganedit.errors import GaneditError

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DEFAULT_KEEP_FP32_OPS",
    "FP16_MAX",
    "UniqueNames",
    "check_fp16_model",
    "require_onnx",
    "to_half",
    "value_types",
]

log = logging.getLogger("ganedit")

# Measured with benchmarks/fp16_accuracy.py (RESULTS.md, 2026-11-23): every family stays within
# 2 grey levels of float32 either way, but float16 instance norm was never better and with
# PyTorch's float16 kernels was worse (CycleGAN ResNet-9: max 2 vs 1, mean 0.17 vs 0.16), and a
# GPU kernel may accumulate its statistics in float16; the two Casts per norm cost little.
DEFAULT_KEEP_FP32_OPS: tuple[str, ...] = ("InstanceNormalization",)
FP16_MAX = 65504.0

# Ops whose float output type comes from an attribute, not from an input: they produce float16
# when every consumer wants float16.
_SOURCE_OPS = frozenset({"Constant", "ConstantOfShape", "Cast"})
_SUBGRAPH_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})


def require_onnx() -> Any:
    """The ``onnx`` module, or an ImportError naming the extra that installs it."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "converting a model to float16 needs the onnx package: pip install 'ganedit[gpu]' "
            f"({exc})"
        ) from exc
    return onnx


@dataclasses.dataclass(frozen=True)
class _Slots:
    """How a node's float inputs and outputs follow its precision."""

    # Input index -> True when the input's type follows the node's precision, False when the
    # op fixes it to float32 (Resize's scales), None when any float type is accepted as it is.
    inputs: dict[int, bool | None]
    # Output indices whose type follows the node's precision.
    outputs: frozenset[int]


def _formal_index(params: list[Any], index: int) -> Any:
    if index < len(params):
        return params[index]
    last = params[-1] if params else None
    if last is not None and last.option == last.option.Variadic:
        return last
    return None


def _slots(node: onnx.NodeProto, opset: dict[str, int], float_inputs: set[int]) -> _Slots:
    """Which float inputs and outputs of ``node`` switch to float16 with it, from its schema."""
    onnx = require_onnx()
    domain = node.domain or ""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset.get(domain, 1), domain)
    except onnx.defs.SchemaError as exc:
        raise GaneditError(
            f"cannot convert {node.op_type} (domain {domain or 'ai.onnx'!r}) to float16: "
            f"onnx knows no schema for it ({exc})"
        ) from exc
    params = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    formal_in = [_formal_index(list(schema.inputs), i) for i in range(len(node.input))]
    formal_out = [_formal_index(list(schema.outputs), i) for i in range(len(node.output))]
    uses: dict[str, int] = {}
    for formal in (*formal_in, *formal_out):
        if formal is not None:
            uses[formal.type_str] = uses.get(formal.type_str, 0) + 1

    def switchable(type_str: str) -> bool:
        return "tensor(float16)" in params.get(type_str, ())

    inputs: dict[int, bool | None] = {}
    float_params: set[str] = set()
    for index, formal in enumerate(formal_in):
        if formal is None or not node.input[index]:
            continue
        if formal.type_str in params and uses[formal.type_str] == 1:
            inputs[index] = None  # a type bound nowhere else (Cast's, Shape's input)
        else:
            inputs[index] = switchable(formal.type_str)
            if inputs[index] and index in float_inputs:
                float_params.add(formal.type_str)
    outputs = frozenset(
        index
        for index, formal in enumerate(formal_out)
        if formal is not None and formal.type_str in float_params
    )
    return _Slots(inputs=inputs, outputs=outputs)


class UniqueNames:
    """Unique value names for the nodes and values added to ``graph`` (Casts, here and in the
    benchmarks' float16 emulation)."""

    def __init__(self, graph: onnx.GraphProto):
        self.taken = {v.name for v in (*graph.input, *graph.output, *graph.initializer)}
        for node in graph.node:
            self.taken.update(node.input)
            self.taken.update(node.output)
            self.taken.add(node.name)

    def new(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


def _to_fp16_tensor(tensor: onnx.TensorProto) -> onnx.TensorProto:
    import numpy as np

    onnx = require_onnx()
    values = onnx.numpy_helper.to_array(tensor)
    clamped = int(np.count_nonzero(np.abs(values) > FP16_MAX))
    if clamped:
        log.warning(
            "%s: %d values beyond the float16 range clamped to ±%g", tensor.name, clamped, FP16_MAX
        )
    half = np.clip(values, -FP16_MAX, FP16_MAX).astype(np.float16)
    return onnx.numpy_helper.from_array(half, tensor.name)


def _check_convertible(model: onnx.ModelProto) -> None:
    graph = model.graph
    nested = sorted(
        {n.op_type for n in graph.node if n.op_type in _SUBGRAPH_OPS or _has_subgraph(n)}
    )
    if nested:
        raise GaneditError(
            f"cannot convert a graph with control flow to float16 (found {nested}); "
            "ganedit's generators have none: re-export the model with `ganedit export`"
        )
    if graph.sparse_initializer:
        raise GaneditError("cannot convert a graph with sparse initializers to float16")
    onnx = require_onnx()
    float16 = onnx.TensorProto.FLOAT16
    if any(t.data_type == float16 for t in graph.initializer):
        raise GaneditError(
            "this model already holds float16 weights; give to_half the float32 model"
        )


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(a.g.ByteSize() or len(a.graphs) for a in node.attribute)


def value_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every value in the graph, from strict shape inference."""
    onnx = require_onnx()
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise GaneditError(f"cannot convert to float16: shape inference failed: {exc}") from exc
    graph = inferred.graph
    types = {t.name: t.data_type for t in graph.initializer}
    for info in (*graph.input, *graph.output, *graph.value_info):
        if info.type.HasField("tensor_type"):
            types[info.name] = info.type.tensor_type.elem_type
    missing = [o for n in graph.node for o in n.output if o and o not in types]
    if missing:
        raise GaneditError(
            f"cannot convert to float16: shape inference gave no type for {missing[:5]}"
        )
    return types


def _mark_fp16(card_json: str, kept: Iterable[str]) -> str:
    card = ModelCard.from_json(card_json)
    extra = {**card.extra, "precision": "fp16", "fp32_ops": sorted(set(kept))}
    return card.replace(extra=extra).to_json()


def to_half(
    model: onnx.ModelProto, *, keep_fp32_ops: Collection[str] = DEFAULT_KEEP_FP32_OPS
) -> onnx.ModelProto:
    """A float16 copy of a float32 model whose inputs and outputs stay float32.

    Float32 initializers and ``Constant``/``ConstantOfShape`` values become float16 (clamped to
    ±65504), ``Cast``-to-float nodes cast to float16, and every float activation is float16,
    except around the ops in ``keep_fp32_ops``: those run in float32 between Casts, and their
    own float parameters (InstanceNormalization's scale and bias) stay float32. Inputs an op
    fixes to float32 (Resize's ``scales``) stay float32. A Cast float32 -> float16 follows each
    graph input and a Cast float16 -> float32 precedes each graph output, so callers still feed
    and receive float32 ``(B, C, H, W)`` arrays. The ganedit model card, if any, is kept and
    records ``"precision": "fp16"`` and the ops kept in float32.

    Args:
        model: A float32 model (not modified). Graphs with control flow are not supported.
        keep_fp32_ops: Op types that run in float32.

    Returns:
        The converted model, checked with ``onnx.checker`` (full check, strict shape inference).

    Raises:
        GaneditError: The model has control flow, unknown ops or float16 weights already, or
            the converted model fails the checker.
        ImportError: The ``onnx`` package is missing.

    Example:
        >>> half = to_half(onnx.load("h2z.onnx"))  # doctest: +SKIP
        >>> onnx.save(half, "h2z.fp16.onnx")  # doctest: +SKIP
    """
    onnx = require_onnx()
    _check_convertible(model)
    types = value_types(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    plan = _plan(out, types, frozenset(keep_fp32_ops))
    _convert_sources(out.graph, plan)
    renamed = _rename_outputs(out.graph, plan)
    _insert_casts(out.graph, plan, renamed)
    for info in out.graph.value_info:  # the recorded types of intermediate values
        if info.type.HasField("tensor_type") and info.name in plan.dtype:
            info.type.tensor_type.elem_type = plan.dtype[info.name]
    kept = {n.op_type for n in out.graph.node if n.op_type in plan.keep}
    for prop in out.metadata_props:
        if prop.key == METADATA_KEY:
            prop.value = _mark_fp16(prop.value, kept)
    check_fp16_model(out)
    return out


@dataclasses.dataclass
class _Plan:
    """What :func:`to_half` decided: each node's slots and each float value's element type."""

    keep: frozenset[str]  # op types that run in float32
    slots: list[_Slots]  # per node, in graph order
    dtype: dict[str, int]  # value name -> FLOAT or FLOAT16

    def wanted(self, node: onnx.NodeProto, follows: bool) -> int:
        """The type ``node`` wants at an input whose type follows its precision (or not)."""
        onnx = require_onnx()
        low = node.op_type not in self.keep
        return onnx.TensorProto.FLOAT16 if low and follows else onnx.TensorProto.FLOAT


def _plan(model: onnx.ModelProto, types: dict[str, int], keep: frozenset[str]) -> _Plan:
    """Phase 1: what each node wants at each float input, and what every value becomes."""
    onnx = require_onnx()
    FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    graph = model.graph
    opset = {o.domain or "": o.version for o in model.opset_import}

    def is_float(name: str) -> bool:
        return bool(name) and types.get(name) == FLOAT

    plan = _Plan(keep=keep, slots=[], dtype={})
    wants: dict[str, set[int]] = {}
    for node in graph.node:
        floats = {i for i, name in enumerate(node.input) if is_float(name)}
        slot = _slots(node, opset, floats)
        plan.slots.append(slot)
        low = node.op_type not in keep
        for index, follows in slot.inputs.items():
            name = node.input[index]
            if is_float(name) and follows is not None:
                wants.setdefault(name, set()).add(FLOAT16 if low and follows else FLOAT)
        for index, name in enumerate(node.output):
            if is_float(name) and node.op_type not in _SOURCE_OPS:
                plan.dtype[name] = FLOAT16 if low and index in slot.outputs else FLOAT
    for info in graph.output:
        wants.setdefault(info.name, set()).add(FLOAT)

    def source_type(name: str) -> int:
        # float16 when some consumer wants it and none needs float32 (a kept op's parameter).
        return FLOAT16 if wants.get(name) == {FLOAT16} else FLOAT

    for tensor in graph.initializer:
        if tensor.data_type == FLOAT:
            plan.dtype[tensor.name] = source_type(tensor.name)
    for node in graph.node:
        if node.op_type in _SOURCE_OPS:
            for name in node.output:
                if is_float(name):
                    plan.dtype[name] = FLOAT if node.op_type in keep else source_type(name)
    for info in graph.input:
        if is_float(info.name):
            plan.dtype[info.name] = FLOAT
    return plan


def _convert_sources(graph: onnx.GraphProto, plan: _Plan) -> None:
    """Phase 2: weights, constants and Casts whose result is float16 become float16."""
    import numpy as np

    onnx = require_onnx()
    FLOAT16 = onnx.TensorProto.FLOAT16
    for i, tensor in enumerate(graph.initializer):
        if plan.dtype.get(tensor.name) == FLOAT16:
            graph.initializer[i].CopyFrom(_to_fp16_tensor(tensor))
    for node in graph.node:
        if not (node.output and plan.dtype.get(node.output[0]) == FLOAT16):
            continue
        if node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to":
                    attr.i = FLOAT16
        elif node.op_type in ("Constant", "ConstantOfShape"):
            for attr in list(node.attribute):
                if attr.name == "value":
                    attr.t.CopyFrom(_to_fp16_tensor(attr.t))
                elif attr.name in ("value_float", "value_floats"):
                    values = np.asarray(
                        attr.f if attr.name == "value_float" else list(attr.floats), np.float32
                    )
                    node.attribute.remove(attr)
                    node.attribute.append(
                        onnx.helper.make_attribute(
                            "value", onnx.numpy_helper.from_array(values.astype(np.float16))
                        )
                    )


def _rename_outputs(graph: onnx.GraphProto, plan: _Plan) -> dict[str, str]:
    """Phase 3: graph outputs computed in float16 are renamed, to get a Cast back to float32
    under their own name; returns old name -> float16 name."""
    onnx = require_onnx()
    FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    names = UniqueNames(graph)
    renamed: dict[str, str] = {}
    for info in graph.output:
        if plan.dtype.get(info.name) == FLOAT16:
            renamed[info.name] = names.new(f"{info.name}_fp16")
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name in renamed:
                node.output[i] = renamed[name]
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    for old, new in renamed.items():
        plan.dtype[new] = FLOAT16
        plan.dtype[old] = FLOAT
    return renamed


def _insert_casts(graph: onnx.GraphProto, plan: _Plan, renamed: dict[str, str]) -> None:
    """Phase 4: a Cast where a value's type differs from what its consumer wants, placed just
    before the first consumer so that the node order stays topological; then the Casts of the
    renamed outputs back to float32."""
    onnx = require_onnx()
    FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    names = UniqueNames(graph)
    casts: dict[tuple[str, int], str] = {}
    nodes: list[onnx.NodeProto] = []
    for node, slot in zip(list(graph.node), plan.slots, strict=True):
        for index, follows in slot.inputs.items():
            name = node.input[index]
            if follows is None or name not in plan.dtype:
                continue
            want = plan.wanted(node, follows)
            if plan.dtype[name] == want:
                continue
            key = (name, want)
            if key not in casts:
                suffix = "fp16" if want == FLOAT16 else "fp32"
                casts[key] = names.new(f"{name}_{suffix}")
                nodes.append(
                    onnx.helper.make_node(
                        "Cast", [name], [casts[key]], name=names.new(f"Cast_{suffix}"), to=want
                    )
                )
            node.input[index] = casts[key]
        nodes.append(node)
    for old, new in renamed.items():
        nodes.append(
            onnx.helper.make_node("Cast", [new], [old], name=names.new("Cast_out"), to=FLOAT)
        )
    del graph.node[:]
    graph.node.extend(nodes)


def check_fp16_model(model: onnx.ModelProto) -> None:
    """``onnx.checker`` with full check and strict shape inference, as a GaneditError."""
    onnx = require_onnx()
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise GaneditError(f"the float16 model fails onnx.checker: {exc}") from exc
