// The generator's normalisations as fused primitives: instance norm, AdaIN (instance norm + style
// scale and bias in one pass) and pixel norm. Only the generator uses them and it is never
// differentiated twice (R1 and WGAN-GP act on D), so their backward rules are single fused kernels
// that refuse a second differentiation instead of building a slower composite graph.
import CKernels

/// StyleGAN's epsilon for instance and pixel norm.
public let normEpsilon: Float = 1e-8

/// Records a first-order-only gradient: differentiating it again is a programming error.
private func firstOrderOnly(_ t: Tensor, _ name: String, _ inputs: [Tensor]) -> Tensor {
    record(t, name, inputs) { _, _ in
        fatalError("\(name): second derivatives through the generator's normalisations are not supported")
    }
}

extension Tensor {
    /// (x - mean) / sqrt(var + eps) over each (n, c) plane of x (N, C, H, W), biased variance.
    public func instanceNorm(eps: Float = normEpsilon) -> Tensor {
        precondition(rank >= 3, "instanceNorm: input \(shape) needs (N, C, spatial...)")
        let planes = shape[0] * shape[1], s = count / Swift.max(planes, 1)
        Kernels.ensure()
        let y = Tensor(uninitialized: shape), rstd = Tensor(uninitialized: [planes])
        instance_norm_forward(y.data, rstd.data, data, Int32(planes), s, eps)
        let saved = y.detached()
        return record(y, "instanceNorm", [self]) { g, _ in
            let dx = Tensor(uninitialized: g.shape)
            instance_norm_backward(dx.data, g.data, saved.data, rstd.data, Int32(planes), s)
            return [firstOrderOnly(dx, "instanceNormGrad", [g, saved])]
        }
    }

    /// AdaIN of StyleGAN1: instanceNorm(x) * (1 + ys) + yb, with ys, yb (N, C) from the style.
    public func adaIN(scale ys: Tensor, bias yb: Tensor, eps: Float = normEpsilon) -> Tensor {
        precondition(rank == 4, "adaIN: input \(shape) must be (N, C, H, W)")
        let planes = shape[0] * shape[1], s = shape[2] * shape[3]
        precondition(ys.shape == [shape[0], shape[1]] && yb.shape == ys.shape,
                     "adaIN: style \(ys.shape) / \(yb.shape) for input \(shape)")
        Kernels.ensure()
        let out = Tensor(uninitialized: shape), y = Tensor(uninitialized: shape), rstd = Tensor(uninitialized: [planes])
        adain_forward(out.data, y.data, rstd.data, data, ys.data, yb.data, Int32(planes), s, eps)
        let scale = ys.detached()
        return record(out, "adaIN", [self, ys, yb]) { g, _ in
            let dx = Tensor(uninitialized: g.shape)
            let dys = Tensor(uninitialized: ys.shape), dyb = Tensor(uninitialized: yb.shape)
            adain_backward(dx.data, dys.data, dyb.data, g.data, y.data, rstd.data, scale.data, Int32(planes), s)
            return [firstOrderOnly(dx, "adaINGrad", [g]), firstOrderOnly(dys, "adaINGrad", [g]),
                    firstOrderOnly(dyb, "adaINGrad", [g])]
        }
    }

    /// x / sqrt(mean over channels (axis 1) of x^2 + eps): the mapping network's input norm.
    public func pixelNorm(eps: Float = normEpsilon) -> Tensor {
        precondition(rank >= 2, "pixelNorm: input \(shape) needs (N, C, ...)")
        let (n, c) = (shape[0], shape[1])
        let s = shape[2...].reduce(1, *)
        Kernels.ensure()
        let y = Tensor(uninitialized: shape), rnorm = Tensor(uninitialized: [n * s])
        pixel_norm_forward(y.data, rnorm.data, data, Int32(n), Int32(c), s, eps)
        let saved = y.detached()
        return record(y, "pixelNorm", [self]) { g, _ in
            let dx = Tensor(uninitialized: g.shape)
            pixel_norm_backward(dx.data, g.data, saved.data, rnorm.data, Int32(n), Int32(c), s)
            return [firstOrderOnly(dx, "pixelNormGrad", [g])]
        }
    }
}

/// ProGAN's minibatch standard deviation: the stddev of each feature over a group of samples,
/// averaged to one value per group, appended as an extra feature map. Composite of primitives, so
/// the discriminator's second derivatives pass through it. x: (N, C, H, W) -> (N, C + 1, H, W).
public func minibatchStdDev(_ x: Tensor, groupSize: Int) -> Tensor {
    precondition(x.rank == 4, "minibatchStdDev: input \(x.shape) must be (N, C, H, W)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let g = min(groupSize, n)
    precondition(g >= 1 && n % g == 0,
                 "minibatchStdDev: batch \(n) is not divisible by the group size \(g); use a batch that is a multiple of \(g)")
    let m = n / g
    var y = x.reshaped([g, m, c, h, w])            // sample n = i * m + j is member i of group j
    y = y - y.mean(axes: [0])
    y = (y.square().mean(axes: [0]) + 1e-8).sqrt() // (1, M, C, H, W)
    y = y.mean(axes: [2, 3, 4])                    // (1, M, 1, 1, 1)
    let maps = y.expand([g, m, 1, h, w]).reshaped([n, 1, h, w])
    return concat([x, maps], axis: 1)
}
