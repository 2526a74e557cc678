// Shape primitives: reshape (a free view), swapping the first two axes, and concatenation /
// narrowing / zero-padding along one axis, which are each other's adjoints (concat's backward
// narrows, narrow's pads, pad's narrows).
import CKernels

extension Tensor {
    /// The same buffer seen with another shape; one dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshape \(shape) to \(newShape)")
            target[i] = count / known
        }
        precondition(target.reduce(1, *) == count, "reshape \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        let out = Tensor(shape: target, storage: storage)
        return record(out, "reshape", [self]) { [shape] g, _ in [g.reshaped(shape)] }
    }

    /// Axes 0 and 1 swapped (a copy): conv weights (out, in, ...) <-> transposed-conv (in, out, ...).
    public func transposed01() -> Tensor {
        precondition(rank >= 2, "transposed01 of \(shape)")
        let (a, b) = (shape[0], shape[1])
        let inner = shape[2...].reduce(1, *)
        let out = Tensor(uninitialized: [b, a] + shape[2...])
        if count > 0 {
            Kernels.ensure()
            ew_copy_strided(out.data, data, [inner, b * inner, 1], [b, a, inner], 3)  // strides, dims
        }
        return record(out, "transposed01", [self]) { g, _ in [g.transposed01()] }
    }

    /// Elements [start, start + length) along `axis`.
    public func narrow(axis: Int, start: Int, length: Int) -> Tensor {
        precondition(axis >= 0 && axis < rank && start >= 0 && length >= 0 && start + length <= shape[axis],
                     "narrow(axis: \(axis), start: \(start), length: \(length)) of \(shape)")
        if start == 0 && length == shape[axis] { return self }
        var outShape = shape
        outShape[axis] = length
        let out = Tensor(uninitialized: outShape)
        copyBlocks(from: self, fromOffset: start, into: out, intoOffset: 0, axis: axis, length: length)
        let full = shape[axis]
        return record(out, "narrow", [self]) { g, _ in
            [g.padded(axis: axis, before: start, after: full - start - length)]
        }
    }

    /// Zeros added before and after along `axis`.
    public func padded(axis: Int, before: Int, after: Int) -> Tensor {
        precondition(axis >= 0 && axis < rank && before >= 0 && after >= 0, "pad(axis: \(axis)) of \(shape)")
        if before == 0 && after == 0 { return self }
        var outShape = shape
        outShape[axis] += before + after
        let out = Tensor(zeros: outShape)
        copyBlocks(from: self, fromOffset: 0, into: out, intoOffset: before, axis: axis, length: shape[axis])
        let length = shape[axis]
        return record(out, "pad", [self]) { g, _ in [g.narrow(axis: axis, start: before, length: length)] }
    }
}

/// Concatenation along `axis` (all other dimensions equal).
public func concat(_ parts: [Tensor], axis: Int) -> Tensor {
    precondition(!parts.isEmpty, "concat of nothing")
    let first = parts[0]
    precondition(axis >= 0 && axis < first.rank, "concat axis \(axis) for rank \(first.rank)")
    for p in parts {
        precondition(p.rank == first.rank && p.shape.indices.allSatisfy { $0 == axis || p.shape[$0] == first.shape[$0] },
                     "concat: shapes \(parts.map(\.shape)) differ off axis \(axis)")
    }
    var outShape = first.shape
    outShape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
    let out = Tensor(uninitialized: outShape)
    var offset = 0
    var starts: [Int] = []
    for p in parts {
        starts.append(offset)
        copyBlocks(from: p, fromOffset: 0, into: out, intoOffset: offset, axis: axis, length: p.shape[axis])
        offset += p.shape[axis]
    }
    let lengths = parts.map { $0.shape[axis] }  // the rule keeps the sizes, not the parts
    return record(out, "concat", parts) { g, needs in
        lengths.indices.map { i in needs[i] ? g.narrow(axis: axis, start: starts[i], length: lengths[i]) : nil }
    }
}

/// Copies `length` slices along `axis` from `src` (starting at fromOffset) to `dst` (at intoOffset).
private func copyBlocks(from src: Tensor, fromOffset: Int, into dst: Tensor, intoOffset: Int, axis: Int, length: Int) {
    let inner = src.shape[(axis + 1)...].reduce(1, *)
    let outer = src.shape[..<axis].reduce(1, *)
    let srcAxis = src.shape[axis], dstAxis = dst.shape[axis]
    let run = length * inner
    if run == 0 { return }
    for o in 0..<outer {
        (dst.data + (o * dstAxis + intoOffset) * inner).update(from: src.data + (o * srcAxis + fromOffset) * inner, count: run)
    }
}
