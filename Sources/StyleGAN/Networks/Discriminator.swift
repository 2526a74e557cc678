// The progressive discriminator of ProGAN / StyleGAN (NVlabs' D_basic): a fromRGB stem at each
// resolution, blocks of conv -> blur -> conv with 2x down, the fade-in of the R/2 stem, minibatch
// standard deviation and a final conv + two dense layers to one score.

/// One block at resolution r >= 8: conv at r's width -> blur -> conv with 2x down to r/2's width.
public final class DiscriminatorBlock: Module {
    public let resolution: Int
    public let conv0: EqualizedConv2d, bias0: Tensor
    public let conv1: EqualizedConv2d, bias1: Tensor
    let fused: Bool

    init(resolution r: Int, config c: Config, init rng: inout ParameterInit) {
        resolution = r
        let (cin, cout) = (c.channels(at: r), c.channels(at: r / 2))
        let mid = c.dChannelsChangeFirst == true ? cout : cin
        conv0 = EqualizedConv2d(cin, mid, kernel: 3, equalized: c.dEqualizedLR, spectralNorm: c.dSpectralNorm, init: &rng)
        bias0 = rng.constant([mid], 0)
        conv1 = EqualizedConv2d(mid, cout, kernel: 3, equalized: c.dEqualizedLR, spectralNorm: c.dSpectralNorm, init: &rng)
        bias1 = rng.constant([cout], 0)
        fused = r >= c.fusedScaleFrom
    }

    func callAsFunction(_ x: Tensor, cache: FrozenWeights?) -> Tensor {
        let h = conv0(x, cache: cache).biasLeakyReLU(bias0).blurred()
        return conv1(h, sampling: .down(fused: fused), cache: cache).biasLeakyReLU(bias1)
    }

    public var members: [(String, ModuleMember)] {
        [("conv0", .module(conv0)), ("conv0.bias", .parameter(bias0)), ("conv1", .module(conv1)), ("conv1.bias", .parameter(bias1))]
    }
}

/// Minibatch stddev -> 3x3 conv -> dense -> dense to one score, on 4x4 features. A conditional D
/// adds to the score the projection of the last features h on the class's embedding e (Miyato &
/// Koyama 2018), <h, e> / sqrt(dim) with e normalised as StyleGAN2-ADA normalises its class map;
/// or, for ACGAN, classifies h into the classes with one more dense layer.
public final class DiscriminatorEpilogue: Module {
    public let conv: EqualizedConv2d, convBias: Tensor
    public let fc0: EqualizedLinear, fc1: EqualizedLinear
    public let projection: EqualizedLinear?, classifier: EqualizedLinear?
    public let groupSize: Int
    let wholeBatch: Bool

    init(config c: Config, init rng: inout ParameterInit) {
        let (c1, c0) = (c.nf(1), c.nf(0))
        groupSize = c.mbstdGroupSize
        wholeBatch = c.mbstdWholeBatch == true
        let extra = groupSize > 1 || wholeBatch ? 1 : 0
        conv = EqualizedConv2d(c1 + extra, c1, kernel: 3, equalized: c.dEqualizedLR, spectralNorm: c.dSpectralNorm, init: &rng)
        convBias = rng.constant([c1], 0)
        fc0 = EqualizedLinear(c1 * 16, c0, init: &rng)
        // The dense layers keep equalised lr in every configuration, as NVlabs' D_basic does.
        fc1 = EqualizedLinear(c0, 1, gain: 1, init: &rng)
        let conditioning = c.discriminatorConditioning
        projection = conditioning == .projection ? EqualizedLinear(c.classCount, c0, gain: 1, init: &rng) : nil
        classifier = conditioning == .acgan ? EqualizedLinear(c0, c.classCount, gain: 1, init: &rng) : nil
    }

    /// Scores (N, 1) and, with an ACGAN head, class logits (N, classes).
    func callAsFunction(_ input: Tensor, labels: Tensor?, cache: FrozenWeights?) -> (score: Tensor, classLogits: Tensor?) {
        var x = wholeBatch ? minibatchStdDev(input, groupSize: input.shape[0]) : groupSize > 1 ? minibatchStdDev(input, groupSize: groupSize) : input
        x = conv(x, cache: cache).biasLeakyReLU(convBias)
        let h = fc0(x.reshaped([x.shape[0], -1]), slope: 0.2, cache: cache)
        var score = fc1(h, cache: cache)
        if let projection {
            precondition(labels?.shape == [h.shape[0], projection.weight.shape[1]],
                         "Discriminator: a projection D needs one-hot labels (\(h.shape[0]), \(projection.weight.shape[1])), not \(labels?.shape.description ?? "none")")
            let e = projection(labels!, cache: cache).pixelNorm()
            score = score + (h * e).sum(axes: [1]) * (1 / Float(h.shape[1]).squareRoot())
        }
        return (score, classifier.map { $0(h, cache: cache) })
    }

    /// Named as block 4, as NVlabs' D_basic names it.
    public var members: [(String, ModuleMember)] {
        [("block4.conv", .module(conv)), ("block4.conv.bias", .parameter(convBias)), ("block4.fc0", .module(fc0)), ("block4.fc1", .module(fc1))]
            + (projection.map { [("block4.projection", .module($0))] } ?? []) + (classifier.map { [("block4.classifier", .module($0))] } ?? [])
    }
}

public final class Discriminator: Module {
    public let config: Config
    public let fromRGB: [Int: FromRGB]
    public let blocks: [Int: DiscriminatorBlock]
    public let epilogue: DiscriminatorEpilogue

    /// A stream range apart from G's, so G and D built from one seed are independent.
    public convenience init(config: Config, seed: UInt64) { self.init(config: config, parameters: ParameterInit(seed: seed ^ 0xD15C_0000_0000)) }

    static func unfilled(_ config: Config) -> Discriminator { Discriminator(config: config, parameters: .unfilled) }

    init(config: Config, parameters: ParameterInit) {
        self.config = config
        var rng = parameters
        var stems: [Int: FromRGB] = [:], blocks: [Int: DiscriminatorBlock] = [:]
        for r in config.resolutions {
            stems[r] = FromRGB(channels: config.channels(at: r), equalized: config.dEqualizedLR, spectralNorm: config.dSpectralNorm,
                               linear: config.dLinearFromRGB == true, init: &rng)
            if r >= 8 { blocks[r] = DiscriminatorBlock(resolution: r, config: config, init: &rng) }
        }
        fromRGB = stems
        self.blocks = blocks
        epilogue = DiscriminatorEpilogue(config: config, init: &rng)
    }

    /// Scores (N, 1) for images (N, 3, R, R) (of classes `labels`, one-hot, for a projection D).
    public func callAsFunction(_ images: Tensor, labels: Tensor? = nil, alpha: Float = 1, cache: FrozenWeights? = nil) -> Tensor {
        forward(images, labels: labels, alpha: alpha, cache: cache).score
    }

    /// Scores and an ACGAN D's class logits; below full fade-in (alpha < 1) the R/2 stem on the
    /// 2x-downsampled images is blended in after block R, mirroring the generator.
    public func forward(_ images: Tensor, labels: Tensor? = nil, alpha: Float = 1, cache: FrozenWeights? = nil) -> (score: Tensor, classLogits: Tensor?) {
        precondition(images.rank == 4 && images.shape[1] == 3 && images.shape[2] == images.shape[3],
                     "Discriminator: images \(images.shape) must be (N, 3, R, R)")
        let r = images.shape[2]
        precondition(config.resolutions.contains(r), "Discriminator: resolution \(r) not in \(config.resolutions)")
        precondition(alpha >= 0 && alpha <= 1, "Discriminator: alpha \(alpha) outside [0, 1]")
        let n = images.shape[0], g = config.mbstdGroup(batch: n)
        precondition(config.mbstdGroupSize <= 1 || n % g == 0,
                     "Discriminator: batch \(n) is not divisible by the minibatch-stddev group size \(g)")
        var x = fromRGB[r]!(images, cache: cache)
        var res = r
        while res > 4 {
            x = blocks[res]!(x, cache: cache)
            if res == r && alpha < 1 {
                let skip = fromRGB[r / 2]!(images.downsampled2x(), cache: cache)
                x = skip + (x - skip) * alpha
            }
            res /= 2
        }
        return epilogue(x, labels: labels, cache: cache)
    }

    public var members: [(String, ModuleMember)] {
        config.resolutions.map { ("fromrgb\($0)", .module(fromRGB[$0]!)) }
            + config.resolutions.filter { $0 >= 8 }.map { ("block\($0)", .module(blocks[$0]!)) } + [("", .module(epilogue))]
    }

    /// Trainable parameters with their checkpoint names (prefix "D.").
    public var parameters: NamedParameters { namedParameters(prefix: "D") }
    /// Spectral-norm vectors (state, not trained).
    public var buffers: NamedParameters { namedBuffers(prefix: "D") }
}
