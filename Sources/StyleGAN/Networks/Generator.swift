// The StyleGAN generator (Karras et al. 2019), readable in one file: the mapping network z -> w,
// the synthesis network from a learned constant with per-layer noise and AdaIN styles, and the
// ProGAN fade-in between resolutions. Follows NVlabs' G_style / G_mapping / G_synthesis.

/// z -> w: pixel norm, then `mappingLayers` equalised dense layers (lr multiplier 0.01) with leaky ReLU.
/// A conditional network also embeds the class (a linear layer of the one-hot label, StyleGAN2-ADA's
/// `embed`), normalises the embedding as z is normalised, and feeds [z, embedding] to the first layer.
public final class MappingNetwork: Module {
    public let embed: EqualizedLinear?
    public let layers: [EqualizedLinear]

    init(config: Config, init rng: inout ParameterInit) {
        embed = config.isConditional ? EqualizedLinear(config.classCount, config.wDim, gain: 1, init: &rng) : nil
        let inputs = config.zDim + (config.isConditional ? config.wDim : 0)
        layers = (0..<config.mappingLayers).map { i in
            EqualizedLinear(i == 0 ? inputs : config.wDim, config.wDim, lrMul: config.mappingLRMul, init: &rng)
        }
    }

    /// z (N, zDim) and, for a conditional network, one-hot labels (N, classes) -> w (N, wDim).
    public func callAsFunction(_ z: Tensor, labels: Tensor? = nil, cache: FrozenWeights? = nil) -> Tensor {
        precondition(z.rank == 2, "MappingNetwork: z \(z.shape)")
        var x = z.pixelNorm()
        if let embed {
            precondition(labels?.shape == [z.shape[0], embed.weight.shape[1]],
                         "MappingNetwork: a conditional network needs one-hot labels (\(z.shape[0]), \(embed.weight.shape[1])), not \(labels?.shape.description ?? "none")")
            x = concat([x, embed(labels!, cache: cache).pixelNorm()], axis: 1)
        } else {
            precondition(labels == nil, "MappingNetwork: labels given to an unconditional network")
        }
        precondition(x.shape[1] == layers[0].weight.shape[1], "MappingNetwork: z \(z.shape)")
        return layers.reduce(x) { x, layer in layer(x, slope: 0.2, cache: cache) }
    }

    public var members: [(String, ModuleMember)] {
        (embed.map { [("embed", .module($0))] } ?? []) + layers.enumerated().map { ("fc\($0)", .module($1)) }
    }
}

extension Tensor {
    /// One-hot rows (labels.count, classes) of class labels in 0..<classes.
    public convenience init(oneHot labels: [Int], classes: Int) {
        precondition(labels.allSatisfy { (0..<classes).contains($0) }, "one-hot: labels \(labels) outside 0..<\(classes)")
        var v = [Float](repeating: 0, count: labels.count * classes)
        for (i, l) in labels.enumerated() { v[i * classes + l] = 1 }
        self.init(v, shape: [labels.count, classes])
    }
}

/// Noise for the synthesis layers: drawn from a seed, the network's fixed maps, none, or given.
public enum NoiseInput {
    /// One draw for the whole batch (training keys it by the iteration).
    case random(seed: UInt64)
    /// Sample i's maps drawn from seeds[i] as for a batch of one: the noise `generate --seeds`
    /// gives that seed, whatever batch the image is made in.
    case fromSeeds([Int])
    case const
    case none
    case given([Tensor])
}

/// One synthesis layer: [conv] -> noise -> bias -> leaky ReLU -> instance norm -> AdaIN style; with
/// `Config.demodulate`, [conv demodulated for the scales of its input] -> noise -> bias -> leaky
/// ReLU -> times this layer's style scales (StyleGAN2's style block, Karras et al. 2020).
public final class SynthesisLayer: Module {
    public let index: Int, resolution: Int
    /// nil for layer 0, whose input is the learned constant.
    public let conv: EqualizedConv2d?
    /// StyleGAN's per-pixel noise strength per channel (init 0), applied fused with the bias and
    /// activation (`noiseBiasLeakyReLU`).
    public let noiseStrength: Tensor
    public let bias: Tensor
    /// One of the two: AdaIN (StyleGAN1), or StyleGAN2's modulation where the config demodulates.
    public let style: AdaIN?
    public let modulation: StyleModulation?
    /// The affine map from w to this layer's styles (AdaIN's scale and bias, or the modulation's scales).
    public var styleAffine: EqualizedLinear { modulation?.affine ?? style!.affine }
    let sampling: ConvSampling
    let biasBeforeBlur: Bool

    init(index: Int, config: Config, init rng: inout ParameterInit) {
        self.index = index
        resolution = 4 << (index / 2)
        let channels = config.channels(at: resolution)
        let upsamples = index >= 2 && index % 2 == 0
        // An upsampling layer's input is the previous resolution's.
        conv = index == 0 ? nil : EqualizedConv2d(config.channels(at: upsamples ? resolution / 2 : resolution), channels, kernel: 3,
                                                  spectralNorm: config.gSpectralNorm, init: &rng)
        sampling = upsamples ? .up(fused: resolution >= config.fusedScaleFrom) : .same
        noiseStrength = rng.constant([channels], 0)
        bias = rng.constant([channels], 0)
        let demodulate = config.demodulate == true
        style = demodulate ? nil : AdaIN(wDim: config.wDim, channels: channels, eps: config.instanceNormEps, init: &rng)
        modulation = demodulate ? StyleModulation(wDim: config.wDim, channels: channels, init: &rng) : nil
        biasBeforeBlur = upsamples && config.biasBeforeBlur == true
    }

    /// AdaIN's layer. The input is consumed: a caller that passes its only reference lets the layer
    /// free it as soon as the conv has read it (a 256 px activation of 16 images is 268 MB).
    public func callAsFunction(_ input: consuming Tensor, w: Tensor, noise noiseMap: Tensor?, cache: FrozenWeights? = nil) -> Tensor {
        style!(activation(input, inputScales: nil, noise: noiseMap, cache: cache), w: w, cache: cache)
    }

    /// The demodulating layer: its input was scaled by the previous layer's `inputScales` (nil for
    /// the constant); returns its output times its own scales, and those scales.
    public func modulated(_ input: consuming Tensor, inputScales: Tensor?, w: Tensor, noise noiseMap: Tensor?,
                          cache: FrozenWeights? = nil) -> (Tensor, scales: Tensor) {
        let s = modulation!.scales(w, cache: cache)
        let x = activation(input, inputScales: inputScales, noise: noiseMap, cache: cache)
        return (x * s.reshaped([s.shape[0], s.shape[1], 1, 1]), s)
    }

    /// [conv, demodulated where `inputScales` are given] -> [blur] -> noise -> bias -> leaky ReLU.
    func activation(_ input: consuming Tensor, inputScales: Tensor?, noise noiseMap: Tensor?, cache: FrozenWeights?) -> Tensor {
        var x = input
        var b = bias
        if let conv {
            x = conv(x, sampling: sampling, cache: cache)
            if let inputScales {
                let d = demodulation(conv, inputScales: inputScales, cache: cache)
                x = x * d.reshaped([d.shape[0], d.shape[1], 1, 1])
            }
            // NVlabs blurs after the upsampling conv, before the noise (rosinality: after the bias,
            // which differs at the borders, where the blur reads zero padding).
            if biasBeforeBlur {
                x = x.biasLeakyReLU(bias, slope: 1).blurred()
                b = Tensor(zeros: bias.shape)
            } else if case .up = sampling {
                x = x.blurred()
            }
        }
        return noiseMap.map { x.noiseBiasLeakyReLU(noise: $0, strength: noiseStrength, bias: b) } ?? x.biasLeakyReLU(b)
    }

    public var members: [(String, ModuleMember)] {
        (conv.map { [("conv", .module($0))] } ?? []) + [("noise_strength", .parameter(noiseStrength)), ("bias", .parameter(bias)),
               ("style", .module(modulation.map { $0 as any Module } ?? style!))]
    }
}

/// The learned 4x4 constant, the layers (two per resolution) and a toRGB per resolution.
public final class SynthesisNetwork: Module {
    public let config: Config
    public let const: Tensor  // (1, C4, 4, 4), initialised to 1
    public let layers: [SynthesisLayer]
    public let toRGB: [Int: ConvLayer]  // by resolution
    /// The fixed noise maps of `.const` (1, 1, r, r) per layer: buffers, not trained.
    public let constNoise: [Tensor]

    init(config: Config, init rng: inout ParameterInit) {
        self.config = config
        const = rng.constant([1, config.channels(at: 4), 4, 4], 1)
        let layers = (0..<config.layerCount).map { SynthesisLayer(index: $0, config: config, init: &rng) }
        self.layers = layers
        toRGB = Dictionary(uniqueKeysWithValues: config.resolutions.map {
            ($0, ConvLayer(config.channels(at: $0), 3, kernel: 1, gain: 1, spectralNorm: config.gSpectralNorm, slope: 1, init: &rng))
        })
        constNoise = layers.map { rng.normal([1, 1, $0.resolution, $0.resolution], buffer: true) }
    }

    /// Images (N, 3, R, R) from one w per layer, ws (N, layers, wDim) with at least the layers that
    /// resolution R uses, faded with the upsampled R/2 output by `alpha` (1: R alone).
    public func callAsFunction(_ ws: Tensor, resolution r: Int, alpha: Float = 1, noise: NoiseInput = .const,
                               cache: FrozenWeights? = nil) -> Tensor {
        let used = Config.layerCount(at: r)
        precondition(config.resolutions.contains(r), "SynthesisNetwork: resolution \(r) not in \(config.resolutions)")
        precondition(ws.rank == 3 && ws.shape[1] >= used && ws.shape[2] == config.wDim,
                     "SynthesisNetwork: ws \(ws.shape) needs (N, >= \(used), \(config.wDim)) at \(r) px")
        precondition(alpha >= 0 && alpha <= 1, "SynthesisNetwork: alpha \(alpha) outside [0, 1]")
        let n = ws.shape[0]
        let maps = noiseMaps(noise, batch: n, layers: used)
        var x = const.expand([n] + const.shape.dropFirst())
        var previous: Tensor?
        var scales: Tensor?  // demodulation: the scales the current x was multiplied by
        for l in layers.prefix(used) {
            let w = ws.narrow(axis: 1, start: l.index, length: 1).reshaped([n, config.wDim])
            if l.modulation != nil {
                (x, scales) = l.modulated(consume x, inputScales: scales, w: w, noise: maps[l.index], cache: cache)
            } else {
                x = l(consume x, w: w, noise: maps[l.index], cache: cache)
            }
            if l.index == used - 3 && alpha < 1 { previous = x }  // the last layer at R/2, for the fade-in
        }
        let image = toRGB[r]!(x, cache: cache)
        guard r > 4, alpha < 1, let previous else { return image }
        let skip = toRGB[r / 2]!(previous, cache: cache).upsampled2x()
        return skip + (image - skip) * alpha
    }

    /// The noise maps of the first `used` layers (nil: no noise on that layer).
    public func noiseMaps(_ noise: NoiseInput, batch n: Int, layers used: Int) -> [Tensor?] {
        switch noise {
        case .none: return Array(repeating: nil, count: used)
        case .const: return Array(constNoise.prefix(used))
        case .random(let seed):
            return noiseMaps(seed: seed, samples: Array(0..<n), of: n, layers: used)
        case .fromSeeds(let seeds):
            precondition(seeds.count == n, "SynthesisNetwork: \(seeds.count) noise seeds for a batch of \(n)")
            let each = seeds.map { noiseMaps(seed: UInt64($0), samples: [0], of: 1, layers: used) }
            return (0..<used).map { l in concat(each.map { $0[l]! }, axis: 0) }
        case .given(let maps):
            precondition(maps.count >= used, "SynthesisNetwork: \(maps.count) noise maps for \(used) layers")
            return Array(maps.prefix(used))
        }
    }

    /// The `.random(seed:)` maps of samples `samples` of a batch of `batch`: one process's shard
    /// of a batch gets the rows that the whole batch's draw has for those samples.
    public func noiseMaps(seed: UInt64, samples: [Int], of batch: Int, layers used: Int) -> [Tensor?] {
        // Stream per layer, so a map does not depend on how many layers run; with one map per
        // resolution both layers take the first one's stream.
        let perResolution = config.noisePerResolution == true
        return layers.prefix(used).map { l in
            let stream = UInt32(perResolution ? l.index & ~1 : l.index)
            return Tensor(randomNormal: [batch, 1, l.resolution, l.resolution], rows: samples, seed: seed, stream: stream, step: 0x401_5E)
        }
    }

    /// The fixed noise maps first, so that the buffers keep their file order.
    public var members: [(String, ModuleMember)] {
        constNoise.enumerated().map { ("noise_const\($0)", .buffer($1)) } + [("const", .parameter(const))]
            + layers.map { ("layer\($0.index)", .module($0)) } + config.resolutions.map { ("torgb\($0)", .module(toRGB[$0]!)) }
    }
}

/// Mapping + synthesis, with the tracked average w (for truncation).
public final class Generator: Module {
    public let config: Config
    public let mapping: MappingNetwork
    public let synthesis: SynthesisNetwork
    /// Moving average of the mapping's output, updated during training (NVlabs' dlatent_avg).
    public let wAvg: Tensor

    /// Tensors allocated, not initialised: every one is filled from a file next.
    static func unfilled(_ config: Config) -> Generator { Generator(config: config, seed: nil) }

    /// Parameters drawn from `seed` (nil: unfilled).
    public init(config: Config, seed: UInt64?) {
        self.config = config
        var rng = ParameterInit(seed: seed)
        mapping = MappingNetwork(config: config, init: &rng)
        synthesis = SynthesisNetwork(config: config, init: &rng)
        wAvg = Tensor(zeros: [config.wDim])
    }

    /// The latent z (1, zDim) of a seed, the same on every run and thread count: what generate,
    /// mix, interpolate and the training snapshots all draw.
    public static func latent(seed: Int, zDim: Int) -> Tensor {
        Tensor(randomNormal: [1, zDim], seed: UInt64(seed), stream: 0, step: 0x5EED)
    }

    /// The latents of several seeds as one batch (len(seeds), zDim), row i = latent(seeds[i]).
    public static func latents(seeds: [Int], zDim: Int) -> Tensor {
        concat(seeds.map { latent(seed: $0, zDim: zDim) }, axis: 0)
    }

    /// One w per layer: (N, wDim) broadcast to (N, layers, wDim).
    public func broadcast(_ w: Tensor) -> Tensor {
        w.reshaped([w.shape[0], 1, config.wDim]).expand([w.shape[0], config.layerCount, config.wDim])
    }

    /// z (N, zDim) (and a conditional network's one-hot labels) -> images (N, 3, R, R) with the
    /// same w on every layer.
    public func callAsFunction(_ z: Tensor, labels: Tensor? = nil, resolution: Int? = nil, alpha: Float = 1, noise: NoiseInput = .const,
                               cache: FrozenWeights? = nil) -> Tensor {
        synthesis(broadcast(mapping(z, labels: labels, cache: cache)), resolution: resolution ?? config.resolution, alpha: alpha,
                  noise: noise, cache: cache)
    }

    /// One-hot labels for a batch of seeds (nil for an unconditional network, which takes none):
    /// class `fixed`, or where none is asked for (snapshots, metrics, statistics of w) seed s of
    /// class s mod classes, every class in turn.
    public func labels(seeds: [Int], class fixed: Int? = nil) -> Tensor? {
        config.isConditional ? Tensor(oneHot: seeds.map { fixed ?? $0 % config.classCount }, classes: config.classCount) : nil
    }

    public var members: [(String, ModuleMember)] { [("w_avg", .buffer(wAvg)), ("mapping", .module(mapping)), ("synthesis", .module(synthesis))] }

    /// Trainable parameters with their checkpoint names (prefix "G.").
    public var parameters: NamedParameters { namedParameters(prefix: "G") }
    public var buffers: NamedParameters { namedBuffers(prefix: "G") }
}
