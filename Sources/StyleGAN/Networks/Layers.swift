// The building blocks of both networks, one type per paper concept: equalised-lr dense and conv
// layers (ProGAN), spectral normalisation (Miyato et al.), per-pixel noise and the AdaIN style
// (StyleGAN), toRGB / fromRGB. Each holds its parameters as tensors that require grad.
import Foundation

/// Draws initial weights: parameter k of a network gets Philox stream k, so a seed fixes every
/// initial value regardless of construction order elsewhere. `unfilled` allocates the tensors
/// without drawing anything, for a loader that fills every one from a file.
public struct ParameterInit {
    let seed: UInt64?
    var stream: UInt32 = 0

    /// nil: tensors allocated, not initialised.
    public init(seed: UInt64?) { self.seed = seed }

    var isUnfilled: Bool { seed == nil }

    /// N(0, std^2), trained unless `buffer` (state saved with the weights).
    mutating func normal(_ shape: [Int], std: Float = 1, buffer: Bool = false) -> Tensor {
        next(shape, trained: !buffer) { seed, stream in
            let t = Tensor(randomNormal: shape, seed: seed, stream: stream, step: 0xC0FFEE)
            if std != 1 { GradMode.withoutGrad { t.assign(t * std) } }
            return t
        }
    }

    mutating func constant(_ shape: [Int], _ value: Float) -> Tensor {
        next(shape, trained: true) { _, _ in Tensor(repeating: value, shape: shape) }
    }

    /// The tensor of the next stream: `fill(seed, stream)`, or allocated only when unfilled.
    private mutating func next(_ shape: [Int], trained: Bool, _ fill: (UInt64, UInt32) -> Tensor) -> Tensor {
        defer { stream += 1 }
        let t = seed.map { fill($0, stream) } ?? Tensor(uninitialized: shape)
        t.requiresGrad = trained
        return t
    }
}

/// Dense layer with equalised learning rate: w ~ N(0, 1/lrmul^2) stored, scaled at run time by
/// lrmul * gain / sqrt(fan_in); bias scaled by lrmul.
public final class EqualizedLinear: Module {
    public let weight: Tensor  // (out, in)
    public let bias: Tensor  // (out)
    public let scale: Float, lrMul: Float

    public init(_ inFeatures: Int, _ outFeatures: Int, gain: Float = Float(2).squareRoot(), lrMul: Float = 1, biasInit: Float = 0,
                init rng: inout ParameterInit) {
        weight = rng.normal([outFeatures, inFeatures], std: 1 / lrMul)
        bias = rng.constant([outFeatures], biasInit / lrMul)
        scale = lrMul * gain / Float(inFeatures).squareRoot()
        self.lrMul = lrMul
    }

    /// x (N, in) -> (N, out), then leaky ReLU with `slope` (1: linear).
    public func callAsFunction(_ x: Tensor, slope: Float = 1, cache: FrozenWeights? = nil) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == weight.shape[1], "EqualizedLinear: input \(x.shape) for weight \(weight.shape)")
        let y = matmul(x, weight, transposeB: true, alpha: scale)
        return y.biasLeakyReLU(lrMul == 1 ? bias : FrozenWeights.derived(cache, from: bias, "scaled") { bias * lrMul }, slope: slope)
    }

    public var members: [(String, ModuleMember)] {
        [("weight", .parameter(weight, runtimeScale: scale)), ("bias", .parameter(bias, runtimeScale: lrMul))]
    }
}

/// Spectral normalisation: W / sigma(W), sigma estimated by one power iteration per training step
/// from the persistent vector u (kept in checkpoints so a resumed run continues the estimate).
public final class SpectralNorm {
    public let u: Tensor  // (out), unit norm

    init(outFeatures: Int, init rng: inout ParameterInit) {
        u = rng.normal([outFeatures], buffer: true)
        if !rng.isUnfilled { GradMode.withoutGrad { u.assign(normalised(u)) } }
    }

    /// One power iteration on w (no gradient): u <- normalise(W v). Run once per training step,
    /// before the forward passes of that step.
    public func powerStep(_ w: Tensor) {
        let w2 = w.detached().reshaped([w.shape[0], -1])
        GradMode.withoutGrad { u.assign(normalised(matmul(w2, v(w2))).reshaped([-1])) }
    }

    /// w / sigma(w), sigma = u^T W v: differentiable in W, u and v held fixed.
    func callAsFunction(_ w: Tensor) -> Tensor {
        let w2 = w.reshaped([w.shape[0], -1])
        let sigma = matmul(u.reshaped([1, -1]), matmul(w2, v(w2)))  // (1, 1)
        return w / sigma.reshaped(Array(repeating: 1, count: w.rank))
    }

    /// v = normalise(W^T u) (in, 1), with no gradient.
    private func v(_ w2: Tensor) -> Tensor {
        GradMode.withoutGrad { normalised(matmul(w2.detached(), u.reshaped([-1, 1]), transposeA: true)) }
    }
}

/// x / sqrt(sum(x^2) + 1e-12).
private func normalised(_ x: Tensor) -> Tensor { x / (x.square().sum() + 1e-12).sqrt() }

/// How a convolution changes resolution.
public enum ConvSampling {
    case same
    /// Nearest 2x upsampling then the conv, or both as one stride-2 transposed conv.
    case up(fused: Bool)
    /// The conv then 2x2 mean pooling, or as one stride-2 conv with the pooled 4x4 kernel.
    case down(fused: Bool)
}

/// Conv layer with equalised learning rate (and optional spectral norm); no bias (StyleGAN adds it
/// after the noise).
public final class EqualizedConv2d: Module {
    public let weight: Tensor  // (out, in, k, k)
    public let scale: Float
    public let spectralNorm: SpectralNorm?

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, gain: Float = Float(2).squareRoot(),
                equalized: Bool = true, spectralNorm: Bool = false, init rng: inout ParameterInit) {
        let fanIn = Float(inChannels * kernel * kernel)
        // Without equalised lr the weight is stored at He scale and used as is (ProGAN's other option).
        weight = rng.normal([outChannels, inChannels, kernel, kernel], std: equalized ? 1 : gain / fanIn.squareRoot())
        scale = equalized ? gain / fanIn.squareRoot() : 1
        self.spectralNorm = spectralNorm ? SpectralNorm(outFeatures: outChannels, init: &rng) : nil
    }

    /// The weight as used, as a tensor and the gain the convolutions apply to it: the stored weight
    /// and its equalised-lr scale, or the spectrally normalised weight (where the scale would cancel).
    func effectiveWeight(_ cache: FrozenWeights?) -> (Tensor, gain: Float) {
        if let sn = spectralNorm { return (FrozenWeights.derived(cache, from: weight, "normalised") { sn(weight) }, 1) }
        return (weight, scale)
    }

    public func callAsFunction(_ x: Tensor, sampling: ConvSampling = .same, cache: FrozenWeights? = nil) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == weight.shape[1], "EqualizedConv2d: input \(x.shape) for weight \(weight.shape)")
        let (w, gain) = effectiveWeight(cache)
        let k = weight.shape[2]
        switch sampling {
        case .same:
            return conv2d(x, w, padding: k / 2, gain: gain, cache: cache)
        case .up(fused: false):
            return conv2d(x.upsampled2x(), w, padding: k / 2, gain: gain, cache: cache)
        case .up(fused: true) where k == 3:
            // NVlabs' upscale2d_conv2d, a stride-2 transposed conv with the 4x4 kernel of the
            // nearest-up folded into w (sum of its 4 shifts): each of its four output phases is a
            // 2x2 conv of x, so all four are one 3x3 conv with 4x the outputs, on the Winograd route,
            // then interleaved; 9 multiplies per input pixel and channel pair instead of 16.
            let phases = FrozenWeights.derived(cache, from: weight, "up phases") { upsamplingPhases(shiftedSum(w)) }
            return conv2d(x, phases, padding: 1, gain: gain, cache: cache).pixelShuffled2x()
        case .up(fused: true):
            let up = FrozenWeights.derived(cache, from: weight, "up") { shiftedSum(w).transposed01() }
            return convTranspose2d(x, up, stride: 2, padding: (k - 1) / 2, gain: gain, cache: cache)
        case .down(fused: false):
            return conv2d(x, w, padding: k / 2, gain: gain, cache: cache).downsampled2x()
        case .down(fused: true) where k == 3:
            // NVlabs' conv2d_downscale2d, a stride-2 conv with the 2x2 mean folded into a 4x4
            // kernel: on x's four pixel phases it is one 3x3 conv (Winograd), 9 multiplies per
            // output pixel and channel pair instead of 16.
            let phases = FrozenWeights.derived(cache, from: weight, "down phases") { downsamplingPhases(shiftedSum(w)) }
            return conv2d(x.pixelUnshuffled2x(), phases, padding: 1, gain: gain * 0.25, cache: cache)
        case .down(fused: true):
            // NVlabs' conv2d_downscale2d: the 2x2 mean folded into the kernel, stride 2.
            let down = FrozenWeights.derived(cache, from: weight, "down") { shiftedSum(w) }
            return conv2d(x, down, stride: 2, padding: (k - 1) / 2, gain: gain * 0.25, cache: cache)
        }
    }

    /// Spectrally normalised weights are used at scale 1 (the scale would cancel).
    public var members: [(String, ModuleMember)] {
        [("weight", .parameter(weight, runtimeScale: spectralNorm == nil ? scale : 1))] + (spectralNorm.map { [("sn_u", .buffer($0.u))] } ?? [])
    }

    /// Advances the spectral-norm estimate, if this layer has one.
    public func powerStep() { spectralNorm?.powerStep(weight) }
}

/// The 3x3 kernels (4 Cout, Cin, 3, 3) whose conv (padding 1), pixel-shuffled, is the stride-2
/// transposed conv (padding 1) with the 4x4 kernel s (Cout, Cin, 4, 4): output row 2r reads input
/// rows r - 1 and r through kernel rows 3 and 1, row 2r + 1 reads rows r and r + 1 through kernel
/// rows 2 and 0 (the same for columns). Channel 4o + 2a + b is output o's phase (a, b).
func upsamplingPhases(_ s: Tensor) -> Tensor {
    let (cout, cin) = (s.shape[0], s.shape[1])
    let phases = fourPhases(s, taps: [[3, 1, nil], [nil, 2, 0]]).map { $0.reshaped([cout, 1, cin * 9]) }
    return concat(phases, axis: 1).reshaped([4 * cout, cin, 3, 3])
}

/// The 3x3 kernels (Cout, 4 Cin, 3, 3) whose conv (padding 1) of the pixel-unshuffled input is the
/// stride-2 conv (padding 1) with the 4x4 kernel s (Cout, Cin, 4, 4): output row r reads input rows
/// 2r - 1 .. 2r + 2, that is odd row r - 1, even row r, odd row r and even row r + 1, through
/// kernel rows 0 to 3. Input channel 4c + 2a + b is channel c's phase (a, b).
func downsamplingPhases(_ s: Tensor) -> Tensor {
    let (cout, cin) = (s.shape[0], s.shape[1])
    let phases = fourPhases(s, taps: [[nil, 1, 3], [0, 2, nil]]).map { $0.reshaped([cout, cin, 1, 9]) }
    return concat(phases, axis: 2).reshaped([cout, 4 * cin, 3, 3])
}

/// For phases (a, b) in order (0,0), (0,1), (1,0), (1,1): the 3x3 kernels whose tap (i, j) is the
/// 4x4 kernel's (taps[a][i], taps[b][j]), or zero where either is nil.
private func fourPhases(_ s: Tensor, taps: [[Int?]]) -> [Tensor] {
    precondition(s.rank == 4 && s.shape[2] == 4 && s.shape[3] == 4, "phases of a 4x4 kernel, not \(s.shape)")
    func pick(_ t: Tensor, axis: Int, _ rows: [Int?]) -> Tensor {
        var zeroShape = t.shape
        zeroShape[axis] = 1
        return concat(rows.map { $0.map { t.narrow(axis: axis, start: $0, length: 1) } ?? Tensor(zeros: zeroShape) }, axis: axis)
    }
    return (0..<2).flatMap { a in
        let rows = pick(s, axis: 2, taps[a])
        return (0..<2).map { b in pick(rows, axis: 3, taps[b]) }
    }
}

/// The (k+1)x(k+1) kernel sum_{dy,dx in {0,1}} of w shifted by (dy, dx): nearest 2x resampling
/// folded into a convolution kernel.
func shiftedSum(_ w: Tensor) -> Tensor {
    let k = w.shape[2]
    let p = w.padded(axis: 2, before: 1, after: 1).padded(axis: 3, before: 1, after: 1)  // k+2
    func shift(_ dy: Int, _ dx: Int) -> Tensor {
        p.narrow(axis: 2, start: dy, length: k + 1).narrow(axis: 3, start: dx, length: k + 1)
    }
    return shift(0, 0) + shift(1, 0) + shift(0, 1) + shift(1, 1)
}

/// AdaIN with StyleGAN1's style: (y_s, y_b) = an equalised affine of w (gain 1), and
/// instanceNorm(x) * (1 + y_s) + y_b.
public final class AdaIN: Module {
    public let affine: EqualizedLinear
    let eps: Float

    init(wDim: Int, channels: Int, eps: Float = normEpsilon, init rng: inout ParameterInit) {
        affine = EqualizedLinear(wDim, 2 * channels, gain: 1, init: &rng)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor, w: Tensor, cache: FrozenWeights? = nil) -> Tensor {
        let c = x.shape[1]
        let style = affine(w, cache: cache)  // (N, 2C)
        return x.adaIN(scale: style.narrow(axis: 1, start: 0, length: c), bias: style.narrow(axis: 1, start: c, length: c), eps: eps)
    }

    public var members: [(String, ModuleMember)] { [("", .module(affine))] }
}

/// StyleGAN2's modulation, in place of AdaIN in a network with `Config.demodulate`: a per-sample,
/// per-channel scale s = 1 + affine(w) (gain 1) and no instance norm. The layer's output is
/// scaled by s, and the next convolution, whose weights that scale modulates, divides each of its
/// outputs by the norm of its modulated weights (weight demodulation, Karras et al. 2020).
public final class StyleModulation: Module {
    public let affine: EqualizedLinear

    init(wDim: Int, channels: Int, init rng: inout ParameterInit) { affine = EqualizedLinear(wDim, channels, gain: 1, init: &rng) }

    /// The scales s (N, C) of w (N, wDim).
    public func scales(_ w: Tensor, cache: FrozenWeights? = nil) -> Tensor { affine(w, cache: cache) + 1 }

    public var members: [(String, ModuleMember)] { [("", .module(affine))] }
}

/// The demodulation factors (N, Cout) of a conv whose input was scaled by s (N, Cin):
/// 1 / sqrt(sum over inputs and taps of (w s)^2 + 1e-8), with w the weight as used.
func demodulation(_ conv: EqualizedConv2d, inputScales s: Tensor, cache: FrozenWeights?) -> Tensor {
    let squares = FrozenWeights.derived(cache, from: conv.weight, "demodulation") {
        let (w, gain) = conv.effectiveWeight(cache)
        return (w * gain).square().sum(axes: [2, 3], keepDims: false)  // (Cout, Cin)
    }
    return (matmul(s.square(), squares, transposeB: true) + 1e-8).rsqrt()
}

/// Conv (equalised lr, optional spectral norm), bias and leaky ReLU with `slope` (1: linear): the
/// generator's toRGB (1x1, gain 1, linear), the discriminator's fromRGB stems (1x1; linear in
/// rosinality's model default) and its 3x3 convs.
public final class ConvLayer: Module {
    public let conv: EqualizedConv2d
    public let bias: Tensor
    let slope: Float

    init(_ inChannels: Int, _ outChannels: Int, kernel: Int, gain: Float = Float(2).squareRoot(), equalized: Bool = true,
         spectralNorm: Bool, slope: Float = 0.2, init rng: inout ParameterInit) {
        conv = EqualizedConv2d(inChannels, outChannels, kernel: kernel, gain: gain, equalized: equalized, spectralNorm: spectralNorm, init: &rng)
        bias = rng.constant([outChannels], 0)
        self.slope = slope
    }

    public func callAsFunction(_ x: Tensor, sampling: ConvSampling = .same, cache: FrozenWeights? = nil) -> Tensor {
        conv(x, sampling: sampling, cache: cache).biasLeakyReLU(bias, slope: slope)
    }

    public var members: [(String, ModuleMember)] { [("", .module(conv)), ("bias", .parameter(bias))] }
}
