// Elementwise primitives with numpy broadcasting, their scalar forms and the unary maps, each with
// its derivative written in these same ops (so it can be differentiated again). `sumTo` and
// `expand` are the adjoint pair that broadcasting's backward needs.
import CKernels

// MARK: - Shapes and strides

/// numpy's broadcast of two shapes, or a precondition failure naming both.
func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let n = max(a.count, b.count)
    let pa = Array(repeating: 1, count: n - a.count) + a
    let pb = Array(repeating: 1, count: n - b.count) + b
    return zip(pa, pb).map { x, y in
        precondition(x == y || x == 1 || y == 1, "shapes \(a) and \(b) do not broadcast")
        return max(x, y)
    }
}

/// Element strides for reading a contiguous tensor of `shape` as `target` (0 on broadcast axes).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let padded = Array(repeating: 1, count: target.count - shape.count) + shape
    var strides = Array(repeating: 0, count: target.count)
    var s = 1
    for i in stride(from: target.count - 1, through: 0, by: -1) {
        strides[i] = padded[i] == 1 && target[i] != 1 ? 0 : s
        s *= padded[i]
    }
    return strides
}

/// Merges adjacent axes where both operands are contiguous, so shapes of any rank fit the kernels'
/// CK_MAXDIM limit (and the fast paths see the simplest layout).
func coalesce(_ dims: [Int], _ strideSets: [[Int]]) -> ([Int], [[Int]]) {
    var d: [Int] = []
    var s: [[Int]] = strideSets.map { _ in [] }
    for i in 0..<dims.count where dims[i] != 1 {
        if let last = d.last,
           strideSets.indices.allSatisfy({ k in s[k].last! == strideSets[k][i] * dims[i] }) {
            d[d.count - 1] = last * dims[i]
            for k in strideSets.indices { s[k][s[k].count - 1] = strideSets[k][i] }
        } else {
            d.append(dims[i])
            for k in strideSets.indices { s[k].append(strideSets[k][i]) }
        }
    }
    if d.isEmpty { return ([1], strideSets.map { _ in [1] }) }
    precondition(d.count <= Int(CK_MAXDIM), "broadcast over \(d.count) independent axes is not supported")
    return (d, s)
}

// MARK: - Binary

private enum BinaryOp: Int32 { case add = 0, sub = 1, mul = 2, div = 3 }

private func binaryKernel(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
    Kernels.ensure()
    let shape = broadcastShape(a.shape, b.shape)
    let out = Tensor(uninitialized: shape)
    if out.count == 0 { return out }
    let (dims, strides) = coalesce(shape, [broadcastStrides(a.shape, to: shape), broadcastStrides(b.shape, to: shape)])
    ew_binary(op.rawValue, out.data, a.data, strides[0], b.data, strides[1], dims, Int32(dims.count))
    return out
}

public func + (a: Tensor, b: Tensor) -> Tensor {
    // The rule keeps the shapes only, so neither input is held for the backward pass.
    let (sa, sb) = (a.shape, b.shape)
    return record(binaryKernel(.add, a, b), "add", [a, b]) { g, needs in
        [needs[0] ? g.sumTo(sa) : nil, needs[1] ? g.sumTo(sb) : nil]
    }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let (sa, sb) = (a.shape, b.shape)
    return record(binaryKernel(.sub, a, b), "sub", [a, b]) { g, needs in
        [needs[0] ? g.sumTo(sa) : nil, needs[1] ? (-g).sumTo(sb) : nil]
    }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    record(binaryKernel(.mul, a, b), "mul", [a, b]) { g, needs in
        [needs[0] ? (g * b).sumTo(a.shape) : nil, needs[1] ? (g * a).sumTo(b.shape) : nil]
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    // d(a/b)/db = -a/b^2, recomputed from the inputs: a rule may not hold its own output (a cycle),
    // and the output need not outlive the forward (the graph holds only what rules capture).
    record(binaryKernel(.div, a, b), "div", [a, b]) { g, needs in
        [needs[0] ? (g / b).sumTo(a.shape) : nil, needs[1] ? (-(g * a) / (b * b)).sumTo(b.shape) : nil]
    }
}

// MARK: - Scalars

extension Tensor {
    /// scale * self + shift, as one primitive (scalars are constants).
    public func affine(scale: Float, shift: Float = 0) -> Tensor {
        let y = Tensor.run(shape) { ew_affine($0, data, scale, shift, count) }
        return record(y, "affine", [self]) { g, _ in [g.affine(scale: scale)] }
    }
}

public prefix func - (x: Tensor) -> Tensor { x.affine(scale: -1) }
public func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s) }
public func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s) }
public func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
public func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
public func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }
public func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s) }

// MARK: - Unary

private enum UnaryOp: Int32 {
    case neg = 0, exp, log, sqrt, softplus, sigmoid, relu, square, rsqrt, abs, step
}

private func unaryKernel(_ op: UnaryOp, _ x: Tensor) -> Tensor {
    Tensor.run(x.shape) { ew_unary(op.rawValue, $0, x.data, x.count) }
}

extension Tensor {
    public func exp() -> Tensor {
        // The rules below recompute their output from the input rather than hold it (see `/`).
        record(unaryKernel(.exp, self), "exp", [self]) { g, _ in [g * self.exp()] }
    }

    public func log() -> Tensor {
        record(unaryKernel(.log, self), "log", [self]) { g, _ in [g / self] }
    }

    public func sqrt() -> Tensor {
        record(unaryKernel(.sqrt, self), "sqrt", [self]) { g, _ in [(g / self.sqrt()) * 0.5] }
    }

    /// 1 / sqrt(x).
    public func rsqrt() -> Tensor {
        record(unaryKernel(.rsqrt, self), "rsqrt", [self]) { g, _ in
            let r = self.rsqrt()
            return [(g * r * r * r) * -0.5]
        }
    }

    public func square() -> Tensor {
        record(unaryKernel(.square, self), "square", [self]) { g, _ in [(g * self) * 2] }
    }

    /// log(1 + exp(x)), computed without overflow: the logistic GAN loss.
    public func softplus() -> Tensor {
        record(unaryKernel(.softplus, self), "softplus", [self]) { g, _ in [g * self.sigmoid()] }
    }

    public func sigmoid() -> Tensor {
        record(unaryKernel(.sigmoid, self), "sigmoid", [self]) { g, _ in
            let s = self.sigmoid()
            return [g * s * (1 - s)]
        }
    }

    /// max(x, 0); the derivative's mask is a constant (the kink has measure zero).
    public func relu() -> Tensor {
        record(unaryKernel(.relu, self), "relu", [self]) { g, _ in
            [g * GradMode.withoutGrad { unaryKernel(.step, self) }]
        }
    }
}

// MARK: - Broadcast and reduce

extension Tensor {
    /// Sums over the axes that broadcasting to this tensor's shape would have expanded, giving
    /// `target` (the backward of broadcasting). Its own backward is `expand`.
    public func sumTo(_ target: [Int]) -> Tensor {
        if target == shape { return self }
        _ = broadcastShape(target, shape)
        let padded = Array(repeating: 1, count: rank - target.count) + target
        precondition(padded.count == rank, "sumTo: \(target) has more axes than \(shape)")
        Kernels.ensure()
        let out = Tensor(uninitialized: target)
        // Coalesce runs of kept / reduced axes so any rank fits the kernel.
        var xd: [Int] = [], od: [Int] = []
        for (x, o) in zip(shape, padded) where x != 1 {
            let reduced = o == 1
            if let lx = xd.last, (od.last! == 1) == reduced {
                xd[xd.count - 1] = lx * x
                od[od.count - 1] = reduced ? 1 : lx * x
            } else {
                xd.append(x)
                od.append(reduced ? 1 : x)
            }
        }
        if xd.isEmpty { xd = [1]; od = [1] }
        precondition(xd.count <= Int(CK_MAXDIM), "sumTo over \(xd.count) alternating axes is not supported")
        reduce_sum(out.data, od, data, xd, Int32(xd.count))
        return record(out, "sumTo", [self]) { [shape] g, _ in [g.expand(shape)] }
    }

    /// Broadcasts to `target` (a copy). Its backward is `sumTo`.
    public func expand(_ target: [Int]) -> Tensor {
        if target == shape { return self }
        let full = broadcastShape(shape, target)
        precondition(full == target, "expand: \(shape) does not broadcast to \(target)")
        Kernels.ensure()
        let out = Tensor(uninitialized: target)
        if out.count > 0 {
            let (dims, strides) = coalesce(target, [broadcastStrides(shape, to: target)])
            ew_copy_strided(out.data, data, strides[0], dims, Int32(dims.count))
        }
        return record(out, "expand", [self]) { [shape] g, _ in [g.sumTo(shape)] }
    }

    /// Sum over `axes`, keeping them as size-1 axes.
    public func sum(axes: [Int], keepDims: Bool = true) -> Tensor {
        var target = shape
        for a in axes { target[a < 0 ? a + rank : a] = 1 }
        let s = sumTo(target)
        if keepDims { return s }
        let kept = shape.indices.filter { i in !axes.contains(i) && !axes.contains(i - rank) }.map { shape[$0] }
        return s.reshaped(kept)
    }

    public func mean(axes: [Int], keepDims: Bool = true) -> Tensor {
        let n = axes.map { shape[$0 < 0 ? $0 + rank : $0] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }

    /// Sum of all elements, as a one-element tensor of shape [].
    public func sum() -> Tensor { sumTo(Array(repeating: 1, count: rank)).reshaped([]) }
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }
}

// In-place updates of state that no graph records (optimiser and EMA steps, averaged gradients).
extension Tensor {
    /// self += t * (target - self), elementwise (an EMA step toward `target`).
    public func lerpInPlace(toward target: Tensor, by t: Float) {
        precondition(target.shape == shape, "lerpInPlace: \(target.shape) toward \(shape)")
        ew_lerp(data, data, target.data, t, count)
    }

    /// self *= s, elementwise.
    public func scaleInPlace(by s: Float) { ew_affine(data, data, s, 0, count) }

    /// Whether no element is NaN or infinite.
    public var isFinite: Bool { has_nonfinite(data, count) == 0 }

    /// One Adam step on these values from `gradient`, with the moments updated in place
    /// (`m` nil when beta1 = 0); `step` counts from 1 for the bias correction.
    public func adamUpdate(gradient g: Tensor, m: Tensor?, v: Tensor, learningRate: Float, beta1: Float,
                           beta2: Float, epsilon: Float, step: Int) {
        precondition(g.shape == shape && v.shape == shape && (m?.shape ?? shape) == shape, "adamUpdate: shapes differ")
        adam_update(data, m?.data, v.data, g.data, count, learningRate, beta1, beta2, epsilon, step)
    }
}
