// The convolution family: conv2d, its input gradient (= the transposed convolution) and its weight
// gradient. Each one's derivatives are the other two, so the family is closed under
// differentiation and the discriminator's R1 / gradient penalty get exact second derivatives.
import CKernels

/// Geometry of one convolution: x (N, Cin, H, W) * w (Cout, Cin, KH, KW) -> y (N, Cout, OH, OW).
public struct ConvGeometry: Equatable {
    public var n, cin, h, w, cout, kh, kw, stride, pad: Int
    public var oh: Int { (h + 2 * pad - kh) / stride + 1 }
    public var ow: Int { (w + 2 * pad - kw) / stride + 1 }
    var inputShape: [Int] { [n, cin, h, w] }
    var weightShape: [Int] { [cout, cin, kh, kw] }
    var outputShape: [Int] { [n, cout, oh, ow] }

    init(input: [Int], weight: [Int], stride: Int, pad: Int) {
        precondition(input.count == 4 && weight.count == 4, "conv2d: input \(input) and weight \(weight) must be rank 4")
        precondition(input[1] == weight[1], "conv2d: input has \(input[1]) channels, weight expects \(weight[1])")
        precondition(stride >= 1 && pad >= 0, "conv2d: stride \(stride), pad \(pad)")
        precondition(input[2] + 2 * pad >= weight[2] && input[3] + 2 * pad >= weight[3],
                     "conv2d: kernel \(weight[2])x\(weight[3]) larger than padded input \(input[2])x\(input[3])")
        (n, cin, h, w) = (input[0], input[1], input[2], input[3])
        (cout, kh, kw) = (weight[0], weight[2], weight[3])
        (self.stride, self.pad) = (stride, pad)
    }

    /// Calls a conv2d kernel with this geometry's sizes.
    func call<R>(_ f: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) -> R) -> R {
        f(Int32(n), Int32(cin), Int32(h), Int32(w), Int32(cout), Int32(kh), Int32(kw), Int32(stride), Int32(pad))
    }

    /// Calls a winograd3x3 kernel (3x3, stride 1, pad 1 implied) with this geometry's sizes.
    func callWinograd(_ f: (Int32, Int32, Int32, Int32, Int32) -> Void) {
        f(Int32(n), Int32(cin), Int32(h), Int32(w), Int32(cout))
    }
}

/// Cross-correlation as PyTorch's F.conv2d (no bias), with the weight used as `gain` * w: the
/// equalised-lr scale applied inside the products, where it costs nothing, rather than by a scaled
/// copy of every weight (a pass over the weights each step, and over their gradients back).
/// `cache`: where w's Winograd transform is kept while the weights are frozen (FrozenWeights).
public func conv2d(_ x: Tensor, _ w: Tensor, stride: Int = 1, padding: Int = 0, gain: Float = 1, cache: FrozenWeights? = nil) -> Tensor {
    let geo = ConvGeometry(input: x.shape, weight: w.shape, stride: stride, pad: padding)
    Kernels.ensure()
    let y = Tensor(uninitialized: geo.outputShape)
    if let u = FrozenWeights.winogradWeights(cache, w, gain: gain, geo) {
        geo.callWinograd { winograd3x3_forward_transformed(y.data, x.data, u.data, $0, $1, $2, $3, $4) }
    } else {
        geo.call { conv2d_forward(y.data, x.data, w.data, $0, $1, $2, $3, $4, $5, $6, $7, $8, gain) }
    }
    return record(y, "conv2d", [x, w]) { g, needs in
        [needs[0] ? conv2dInputGrad(g, w, geo, gain: gain, cache: cache) : nil, needs[1] ? conv2dWeightGrad(g, x, geo, gain: gain, cache: cache) : nil]
    }
}

/// The gradient of sum(conv2d(x, w, gain) * dy) with respect to x: linear in dy and in w.
func conv2dInputGrad(_ dy: Tensor, _ w: Tensor, _ geo: ConvGeometry, gain: Float, cache: FrozenWeights?) -> Tensor {
    precondition(dy.shape == geo.outputShape && w.shape == geo.weightShape,
                 "conv2d input gradient: dy \(dy.shape), w \(w.shape) for \(geo)")
    Kernels.ensure()
    let dx = Tensor(uninitialized: geo.inputShape)
    if let u = FrozenWeights.winogradWeights(cache, w, gain: gain, geo) {
        geo.callWinograd { winograd3x3_backward_input_transformed(dx.data, dy.data, u.data, $0, $1, $2, $3, $4) }
    } else {
        geo.call { conv2d_backward_input(dx.data, dy.data, w.data, $0, $1, $2, $3, $4, $5, $6, $7, $8, gain) }
    }
    return record(dx, "conv2dInputGrad", [dy, w]) { g, needs in
        // <g, A_w^T dy> = <conv2d(g, w), dy>: so d/ddy = conv2d(g, w), d/dw = weight grad of (dy, g).
        [needs[0] ? conv2d(g, w, stride: geo.stride, padding: geo.pad, gain: gain, cache: cache) : nil,
         needs[1] ? conv2dWeightGrad(dy, g, geo, gain: gain, cache: cache) : nil]
    }
}

/// The gradient of sum(conv2d(x, w, gain) * dy) with respect to w: linear in dy and in x.
func conv2dWeightGrad(_ dy: Tensor, _ x: Tensor, _ geo: ConvGeometry, gain: Float, cache: FrozenWeights?) -> Tensor {
    precondition(dy.shape == geo.outputShape && x.shape == geo.inputShape,
                 "conv2d weight gradient: dy \(dy.shape), x \(x.shape) for \(geo)")
    let dw = Tensor.run(geo.weightShape) { dw in geo.call { conv2d_backward_weight(dw, dy.data, x.data, $0, $1, $2, $3, $4, $5, $6, $7, $8, gain) } }
    return record(dw, "conv2dWeightGrad", [dy, x]) { g, needs in
        // <g, dW(dy, x)> = <dy, conv2d(x, g)>: d/ddy = conv2d(x, g), d/dx = input grad of (dy, g).
        [needs[0] ? conv2d(x, g, stride: geo.stride, padding: geo.pad, gain: gain, cache: cache) : nil,
         needs[1] ? conv2dInputGrad(dy, g, geo, gain: gain, cache: cache) : nil]
    }
}

/// Transposed convolution as PyTorch's conv_transpose2d: x (N, Cin, H, W), w (Cin, Cout, KH, KW),
/// output (N, Cout, (H-1)*stride - 2*padding + KH + outputPadding, ...). The fused 2x upsample
/// conv of StyleGAN at 128 px and above (where the kernel is not 3x3). The weight is used as `gain` * w.
public func convTranspose2d(_ x: Tensor, _ w: Tensor, stride: Int, padding: Int, outputPadding: Int = 0,
                            gain: Float = 1, cache: FrozenWeights? = nil) -> Tensor {
    precondition(x.rank == 4 && w.rank == 4 && x.shape[1] == w.shape[0],
                 "convTranspose2d: input \(x.shape), weight \(w.shape)")
    let oh = (x.shape[2] - 1) * stride - 2 * padding + w.shape[2] + outputPadding
    let ow = (x.shape[3] - 1) * stride - 2 * padding + w.shape[3] + outputPadding
    let geo = ConvGeometry(input: [x.shape[0], w.shape[1], oh, ow], weight: w.shape, stride: stride, pad: padding)
    precondition(geo.oh == x.shape[2] && geo.ow == x.shape[3], "convTranspose2d: inconsistent geometry \(geo)")
    // The weight's (in, out) layout is already the (Cout, Cin) of the convolution it transposes.
    return conv2dInputGrad(x, w, geo, gain: gain, cache: cache)
}
