// Generation by seed: z from the seed through Philox, the mapping, optional truncation toward
// w_avg, synthesis with the seed's (or fixed, or no) noise. Depends on the networks only.
import Foundation
import StyleGAN

/// "0-7,12" -> [0, 1, ..., 7, 12]: comma-separated seeds and inclusive ranges, in order.
public func parseSeeds(_ text: String) throws -> [Int] {
    var seeds: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let p = part.trimmingCharacters(in: .whitespaces)
        let bounds = p.split(separator: "-", omittingEmptySubsequences: false)
        guard let lo = bounds.first.flatMap({ Int($0) }), lo >= 0, bounds.count <= 2 else {
            throw StyleGANError.inference("bad seed '\(p)' in '\(text)': use non-negative integers and ranges like 0-7,12")
        }
        let hi = bounds.count == 2 ? Int(bounds[1]) : lo
        guard let hi, hi >= lo else { throw StyleGANError.inference("bad seed range '\(p)' in '\(text)': the end must be >= the start") }
        guard hi - lo < 100_000, UInt32(exactly: hi) != nil else { throw StyleGANError.inference("seed range '\(p)' is too large") }
        seeds += Array(lo...hi)
    }
    guard !seeds.isEmpty else { throw StyleGANError.inference("no seeds given") }
    return seeds
}

/// The truncation trick: w' = w_avg + psi (w - w_avg) on the first `cutoff` layers (all if nil).
public struct Truncation {
    public var psi: Float
    public var cutoff: Int?

    public init(psi: Float, cutoff: Int? = nil) throws {
        guard psi.isFinite, abs(psi) <= 2 else { throw StyleGANError.inference("truncation psi \(psi) is outside [-2, 2]") }
        if let cutoff, cutoff < 1 { throw StyleGANError.inference("truncation cutoff \(cutoff) must be at least 1") }
        self.psi = psi
        self.cutoff = cutoff
    }

    /// ws (N, layers, wDim) -> truncated ws.
    public func apply(_ ws: Tensor, wAvg: Tensor) throws -> Tensor {
        let layers = ws.shape[1]
        let cut = cutoff ?? layers
        guard cut <= layers else { throw StyleGANError.inference("truncation cutoff \(cut) is past the network's \(layers) layers") }
        let avg = wAvg.reshaped([1, 1, -1])
        let truncated = avg + (ws - avg) * psi
        if cut == layers { return truncated }
        return concat([truncated.narrow(axis: 1, start: 0, length: cut), ws.narrow(axis: 1, start: cut, length: layers - cut)], axis: 1)
    }
}

public enum NoiseMode: String, CaseIterable {
    case random, const, none
}

/// What generate / mix / interpolate share: the EMA generator of a checkpoint (or of exported
/// weights) at the resolution it was trained to.
public struct Synthesizer {
    public let generator: Generator
    public let resolution: Int
    public let alpha: Float
    /// Set in the view that `frozen` passes: what the generator derives from its weights.
    public private(set) var cache: FrozenWeights?
    /// The class a conditional network makes (`--class`; see `conditioned(on:)`). Where it is nil
    /// a run of seeds takes the classes in turn (seed mod classes), as the metrics do.
    public private(set) var classLabel: Int?

    public init(weights: GeneratorWeights) {
        generator = weights.generator
        resolution = weights.resolution
        alpha = weights.alpha
    }

    public init(checkpoint: Checkpoint) { self.init(weights: GeneratorWeights(checkpoint: checkpoint)) }

    /// A checkpoint or a generator-only file.
    public static func load(_ path: String) throws -> Synthesizer { Synthesizer(weights: try GeneratorWeights.load(from: path)) }

    /// This synthesizer making class `k` (nil: none): refused for an unconditional network, and
    /// required by a conditional one where the images depend on it (`needed`: what is drawn comes
    /// from seeds or latents, not only from projected w's, which are class-free); NVIDIA's
    /// generate.py does the same.
    public func conditioned(on k: Int?, needed: Bool = true) throws -> Synthesizer {
        let classes = generator.config.classCount
        var s = self
        switch (k, classes) {
        case (nil, 0): return s
        case (nil, _) where !needed: return s
        case (.some, 0): throw StyleGANError.inference("--class: this network is unconditional (it was trained without labels)")
        case (nil, _): throw StyleGANError.inference("this network is conditional: choose a class with --class (0 to \(classes - 1))")
        case let (.some(k), _):
            guard (0..<classes).contains(k) else { throw StyleGANError.inference("--class \(k) is out of range: this network has classes 0 to \(classes - 1)") }
            s.classLabel = k
            return s
        }
    }

    /// Layers the network uses at its resolution.
    public var layerCount: Int { Config.layerCount(at: resolution) }

    /// ws (1, layers, wDim) of a seed, truncated if asked.
    public func styles(seed: Int, truncation: Truncation?) throws -> Tensor {
        try styles(z: Generator.latent(seed: seed, zDim: generator.config.zDim), truncation: truncation, seed: seed)
    }

    /// ws (1, layers, wDim) of a latent z (1, zDim), truncated if asked; of `classLabel`, or of
    /// the seed's class in turn where a conditional network is given none.
    public func styles(z: Tensor, truncation: Truncation?, seed: Int = 0) throws -> Tensor {
        try GradMode.withoutGrad {
            let labels = generator.labels(seeds: [seed], class: classLabel)
            let ws = generator.broadcast(generator.mapping(z, labels: labels, cache: cache)).narrow(axis: 1, start: 0, length: layerCount)
            return try truncation?.apply(ws, wAvg: generator.wAvg) ?? ws
        }
    }

    /// Styles (1, layers, wDim) from a projected_w.npy: [1, wDim] (W, broadcast) or [L, wDim]
    /// with at least this network's layers (W+).
    public func styles(wFile path: String) throws -> Tensor {
        let w: Tensor
        do { w = try NumPy.read(path) } catch { throw StyleGANError.inference("\(error)") }
        let d = generator.config.wDim
        guard w.rank == 2, w.shape[1] == d, w.shape[0] == 1 || w.shape[0] >= layerCount else {
            throw StyleGANError.inference("\(path): w of shape \(w.shape); this network needs [1, \(d)] or [\(layerCount), \(d)]")
        }
        if w.shape[0] == 1 { return generator.broadcast(w).narrow(axis: 1, start: 0, length: layerCount).copy() }
        return w.narrow(axis: 0, start: 0, length: layerCount).reshaped([1, layerCount, d]).copy()
    }

    /// The latents of a .npy file of float32 [N, zDim] (NumPy's layout), one image per row.
    public func latents(npy path: String) throws -> [Tensor] {
        let z = try NumPy.read(path)
        let zDim = generator.config.zDim
        guard z.rank == 2, z.shape[1] == zDim, z.shape[0] >= 1 else {
            throw StyleGANError.inference("\(path): latents of shape \(z.shape); this network needs [N, \(zDim)]")
        }
        return (0..<z.shape[0]).map { z.narrow(axis: 0, start: $0, length: 1).copy() }
    }

    public func noiseInput(_ mode: NoiseMode, seed: Int) -> NoiseInput {
        switch mode {
        case .random: return .fromSeeds([seed])
        case .const: return .const
        case .none: return .none
        }
    }

    /// One image from styles (1, layers, wDim).
    public func image(_ ws: Tensor, noise: NoiseInput) -> Image {
        GradMode.withoutGrad { Image(generator.synthesis(ws, resolution: resolution, alpha: alpha, noise: noise, cache: cache), index: 0) }
    }

    /// Runs `body`, which makes several images, on a view of this synthesizer whose generator
    /// derives what it needs from its weights (scaled weights, Winograd transforms) once for all.
    public func frozen<T>(_ body: (Synthesizer) throws -> T) rethrows -> T {
        try FrozenWeights.during(keepingTransformsOf: generator.parameters, maxTiles: FrozenWeights.generationMaxTiles) { cache in
            var view = self
            view.cache = cache
            return try body(view)
        }
    }

    /// The image of a seed.
    public func generate(seed: Int, truncation: Truncation? = nil, noise: NoiseMode = .random) throws -> Image {
        image(try styles(seed: seed, truncation: truncation), noise: noiseInput(noise, seed: seed))
    }

    /// The images of seeds (N, 3, R, R) in [-1, 1] as one batch, no truncation, each seed's noise:
    /// what `generate --seeds` makes of each (the metrics and the training snapshots use it too).
    public func imageTensor(seeds: [Int]) -> Tensor {
        let z = Generator.latents(seeds: seeds, zDim: generator.config.zDim)
        return GradMode.withoutGrad {
            generator(z, labels: generator.labels(seeds: seeds, class: classLabel), resolution: resolution, alpha: alpha,
                      noise: .fromSeeds(seeds), cache: cache)
        }
    }

    /// The image of a seed as a tensor (1, 3, R, R) in [-1, 1], with the seed's noise or another mode.
    public func imageTensor(seed: Int, truncation: Truncation? = nil, noise: NoiseMode) throws -> Tensor {
        let ws = try styles(seed: seed, truncation: truncation)
        return GradMode.withoutGrad { generator.synthesis(ws, resolution: resolution, alpha: alpha, noise: noiseInput(noise, seed: seed), cache: cache) }
    }
}
