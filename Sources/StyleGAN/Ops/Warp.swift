// Warps for augmentation (ADA): reflect padding, bilinear sampling at a per-sample affine grid,
// and a per-sample colour matrix. Each is linear in the image with constant parameters, so its
// backward is its adjoint, and the adjoint's backward is the op again: R1 through augmented
// reals differentiates them twice.
import CKernels

/// PyTorch's `pad(mode: "reflect")`: the edge sample is not repeated; each pad is less than the size.
public func reflectPad(_ x: Tensor, _ p: Padding2D) -> Tensor {
    precondition(x.rank == 4, "reflectPad: input \(x.shape) must be (N, C, H, W)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition([p.x0, p.x1].allSatisfy { $0 >= 0 && $0 < w } && [p.y0, p.y1].allSatisfy { $0 >= 0 && $0 < h },
                 "reflectPad: padding \(p) of a \(h)x\(w) image")
    Kernels.ensure()
    let y = Tensor(uninitialized: [n, c, h + p.y0 + p.y1, w + p.x0 + p.x1])
    reflect_pad(y.data, x.data, Int32(n * c), Int32(h), Int32(w), Int32(p.x0), Int32(p.x1), Int32(p.y0), Int32(p.y1), 0)
    return record(y, "reflectPad", [x]) { g, _ in [reflectPadAdjoint(g, p, height: h, width: w)] }
}

func reflectPadAdjoint(_ g: Tensor, _ p: Padding2D, height h: Int, width w: Int) -> Tensor {
    let x = Tensor(uninitialized: [g.shape[0], g.shape[1], h, w])
    reflect_pad(g.data, x.data, Int32(g.shape[0] * g.shape[1]), Int32(h), Int32(w), Int32(p.x0), Int32(p.x1), Int32(p.y0), Int32(p.y1), 1)
    return record(x, "reflectPadAdjoint", [g]) { gg, _ in [reflectPad(gg, p)] }
}

/// PyTorch's `grid_sample(x, affine_grid(theta, [N, C, height, width]))`, bilinear, zeros
/// outside, align_corners false. `theta`: N row-major 2x3 matrices (normalised coordinates).
public func gridSampleAffine(_ x: Tensor, theta: [Float], height: Int, width: Int) -> Tensor {
    precondition(x.rank == 4 && theta.count == 6 * x.shape[0], "gridSampleAffine: \(theta.count) values of theta for \(x.shape)")
    let (n, c, ih, iw) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let y = Tensor.run([n, c, height, width]) {
        grid_sample_affine($0, x.data, theta, Int32(n), Int32(c), Int32(ih), Int32(iw), Int32(height), Int32(width), 0)
    }
    return record(y, "gridSampleAffine", [x]) { g, _ in [gridSampleAffineAdjoint(g, theta: theta, height: ih, width: iw)] }
}

func gridSampleAffineAdjoint(_ g: Tensor, theta: [Float], height ih: Int, width iw: Int) -> Tensor {
    let (n, c, oh, ow) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
    let x = Tensor(uninitialized: [n, c, ih, iw])
    grid_sample_affine(g.data, x.data, theta, Int32(n), Int32(c), Int32(ih), Int32(iw), Int32(oh), Int32(ow), 1)
    return record(x, "gridSampleAffineAdjoint", [g]) { gg, _ in [gridSampleAffine(gg, theta: theta, height: oh, width: ow)] }
}

/// y[n, c] = sum_k M_n[c, k] x[n, k] + M_n[c, C] per pixel: `matrices` holds N row-major C x (C+1).
public func channelMix(_ x: Tensor, matrices m: [Float]) -> Tensor {
    precondition(x.rank == 4 && m.count == x.shape[0] * x.shape[1] * (x.shape[1] + 1),
                 "channelMix: \(m.count) matrix values for \(x.shape)")
    let y = Tensor.run(x.shape) { channel_mix($0, x.data, m, Int32(x.shape[0]), Int32(x.shape[1]), x.shape[2] * x.shape[3], 0) }
    return record(y, "channelMix", [x]) { g, _ in [channelMixAdjoint(g, matrices: m)] }
}

func channelMixAdjoint(_ g: Tensor, matrices m: [Float]) -> Tensor {
    let x = Tensor(uninitialized: g.shape)
    channel_mix(g.data, x.data, m, Int32(g.shape[0]), Int32(g.shape[1]), g.shape[2] * g.shape[3], 1)
    // The adjoint has no offset, so its own adjoint is the forward without one.
    let c = g.shape[1]
    let linear = (0..<m.count).map { ($0 % (c + 1)) == c ? 0 : m[$0] }
    return record(x, "channelMixAdjoint", [g]) { gg, _ in [channelMix(gg, matrices: linear)] }
}
