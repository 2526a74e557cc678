// The progressive discriminator of ProGAN / StyleGAN (NVlabs' D_basic): a fromRGB stem at each
// resolution, blocks of conv -> blur -> conv with 2x down, the fade-in of the R/2 stem, minibatch
// standard deviation and a final conv + two dense layers to one score.

/// One block at resolution r >= 8: conv at r's width -> blur -> conv with 2x down to r/2's width.
public final class DiscriminatorBlock: Module {
    public let conv0: ConvLayer, conv1: ConvLayer
    let fused: Bool

    init(resolution r: Int, config c: Config, init rng: inout ParameterInit) {
        let (cin, cout) = (c.channels(at: r), c.channels(at: r / 2))
        let mid = c.dChannelsChangeFirst == true ? cout : cin
        conv0 = ConvLayer(cin, mid, kernel: 3, equalized: c.dEqualizedLR, spectralNorm: c.dSpectralNorm, init: &rng)
        conv1 = ConvLayer(mid, cout, kernel: 3, equalized: c.dEqualizedLR, spectralNorm: c.dSpectralNorm, init: &rng)
        fused = r >= c.fusedScaleFrom
    }

    func callAsFunction(_ x: Tensor, cache: FrozenWeights?) -> Tensor {
        conv1(conv0(x, cache: cache).blurred(), sampling: .down(fused: fused), cache: cache)
    }

    public var members: [(String, ModuleMember)] { [("conv0", .module(conv0)), ("conv1", .module(conv1))] }
}

/// Minibatch stddev -> 3x3 conv -> dense -> dense to one score, on 4x4 features. A conditional D
/// adds to the score the projection of the last features h on the class's embedding e (Miyato &
/// Koyama 2018), <h, e> / sqrt(dim) with e normalised as StyleGAN2-ADA normalises its class map;
/// or, for ACGAN, classifies h into the classes with one more dense layer.
public final class DiscriminatorEpilogue: Module {
    public let conv: ConvLayer
    public let fc0: EqualizedLinear, fc1: EqualizedLinear
    public let projection: EqualizedLinear?, classifier: EqualizedLinear?
    /// The minibatch-stddev group for a batch of n (nil: the layer is off).
    let mbstdGroup: ((Int) -> Int)?

    init(config c: Config, init rng: inout ParameterInit) {
        let (c1, c0) = (c.nf(1), c.nf(0))
        mbstdGroup = c.mbstdGroupSize > 1 || c.mbstdWholeBatch == true ? c.mbstdGroup(batch:) : nil
        conv = ConvLayer(c1 + (mbstdGroup == nil ? 0 : 1), c1, kernel: 3, equalized: c.dEqualizedLR, spectralNorm: c.dSpectralNorm, init: &rng)
        fc0 = EqualizedLinear(c1 * 16, c0, init: &rng)
        // The dense layers keep equalised lr in every configuration, as NVlabs' D_basic does.
        fc1 = EqualizedLinear(c0, 1, gain: 1, init: &rng)
        let conditioning = c.discriminatorConditioning
        projection = conditioning == .projection ? EqualizedLinear(c.classCount, c0, gain: 1, init: &rng) : nil
        classifier = conditioning == .acgan ? EqualizedLinear(c0, c.classCount, gain: 1, init: &rng) : nil
    }

    /// Scores (N, 1) and, with an ACGAN head, class logits (N, classes).
    func callAsFunction(_ input: Tensor, labels: Tensor?, cache: FrozenWeights?) -> (score: Tensor, classLogits: Tensor?) {
        let x = conv(mbstdGroup.map { minibatchStdDev(input, groupSize: $0(input.shape[0])) } ?? input, cache: cache)
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
        [("block4.conv", .module(conv)), ("block4.fc0", .module(fc0)), ("block4.fc1", .module(fc1))]
            + (projection.map { [("block4.projection", .module($0))] } ?? []) + (classifier.map { [("block4.classifier", .module($0))] } ?? [])
    }
}

public final class Discriminator: Module {
    public let config: Config
    public let fromRGB: [Int: ConvLayer]
    public let blocks: [Int: DiscriminatorBlock]
    public let epilogue: DiscriminatorEpilogue

    static func unfilled(_ config: Config) -> Discriminator { Discriminator(config: config, seed: nil) }

    /// Parameters from a stream range apart from G's, so G and D built from one seed are
    /// independent; with no seed, allocated but not initialised (a loader fills them).
    public init(config: Config, seed: UInt64?) {
        self.config = config
        var rng = ParameterInit(seed: seed.map { $0 ^ 0xD15C_0000_0000 })
        var stems: [Int: ConvLayer] = [:], blocks: [Int: DiscriminatorBlock] = [:]
        for r in config.resolutions {
            stems[r] = ConvLayer(3, config.channels(at: r), kernel: 1, equalized: config.dEqualizedLR, spectralNorm: config.dSpectralNorm,
                                 slope: config.dLinearFromRGB == true ? 1 : 0.2, init: &rng)
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
