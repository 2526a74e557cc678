// Projection of an image into the generator's latent space (NVIDIA's StyleGAN2 projector.py,
// re-done for StyleGAN1's networks): start at w_avg, Adam on w (one for all layers) or on one w
// per layer (W+), with the learning rate ramped up over the first 5% of the steps and down with a
// cosine over the last 25%, Gaussian noise added to w that decays to zero by 75% of the steps,
// and the per-layer noise maps optimised too under their multi-scale autocorrelation penalty and
// renormalised to zero mean and unit variance after every step. The distance is the mean squared
// error of the images on a pyramid (full size, then 2x downsampled, down to 8x8), plus, given the
// FID network, a perceptual distance of its features (InceptionV3.perceptualDistance), each weighted.
import Foundation
import StyleGAN

public struct ProjectionOptions {
    public var steps = 1000
    /// W+ (a w per layer) instead of W (one w broadcast to every layer).
    public var wPlus = false
    public var seed: UInt64 = 0
    public var initialLearningRate: Float = 0.1
    public var initialNoiseFactor: Float = 0.05
    public var noiseRampLength: Float = 0.75
    public var lrRampdownLength: Float = 0.25
    public var lrRampupLength: Float = 0.05
    public var noiseRegularization: Float = 1e5
    public var pixelWeight: Float = 1
    /// The perceptual term's weight, used when a network is given to `project`.
    public var perceptualWeight: Float = 0.1
    public init() {}
}

public struct Projection {
    /// (1, layers, wDim): the same w on every layer in W, one per layer in W+.
    public let ws: Tensor
    /// The optimised noise maps, one per layer (1, 1, r, r).
    public let noise: [Tensor]
    public let image: Tensor
}

public enum Projector {
    /// Images' pyramid MSE: full size and 2x downsampled levels down to 8x8.
    static func distance(_ a: Tensor, _ b: Tensor) -> Tensor {
        var (x, y) = (a, b)
        var loss = (x - y).square().mean()
        while x.shape[2] > 8 {
            (x, y) = (x.downsampled2x(), y.downsampled2x())
            loss = loss + (x - y).square().mean()
        }
        return loss
    }

    /// x rolled by one along `axis` (torch.roll(x, 1, axis)).
    static func rolled(_ x: Tensor, axis: Int) -> Tensor {
        let n = x.shape[axis]
        return concat([x.narrow(axis: axis, start: n - 1, length: 1), x.narrow(axis: axis, start: 0, length: n - 1)], axis: axis)
    }

    /// NVIDIA's noise regulariser: squared autocorrelations at one-pixel shifts, over the map and
    /// its 2x downsamplings down to 8x8.
    static func noiseRegularization(_ maps: [Tensor]) -> Tensor {
        var total = Tensor(scalar: 0)
        for m in maps {
            var n = m
            while true {
                total = total + (n * rolled(n, axis: 3)).mean().square() + (n * rolled(n, axis: 2)).mean().square()
                if n.shape[2] <= 8 { break }
                n = n.downsampled2x()
            }
        }
        return total
    }

    /// Projects `target` (1, 3, R, R) in [-1, 1] at the generator's `resolution`. `progress` gets
    /// (step, distance, the step's image) after every step.
    public static func project(_ g: Generator, target: Tensor, resolution: Int, options o: ProjectionOptions,
                               perceptual: InceptionV3? = nil, progress: ((Int, Float, Tensor) -> Void)? = nil) -> Projection {
        let targetFeatures = perceptual.map { net in GradMode.withoutGrad { net.perceptualFeatures(target) } }
        let layers = Config.layerCount(at: resolution)
        let wDim = g.config.wDim
        // w_std: the spread of w around w_avg, from 10,000 latents (as the projector does).
        let wStd: Float = GradMode.withoutGrad {
            let z = Tensor(randomNormal: [10000, g.config.zDim], seed: o.seed &+ 0x9A0, stream: 0)
            let w = g.mapping(z, labels: g.labels(seeds: Array(0..<10000)))
            let avg = w.mean(axes: [0])
            return ((w - avg).square().sum() * (1 / 10000)).item.squareRoot()
        }
        let start = g.wAvg.reshaped([1, 1, wDim])
        let wOpt = (o.wPlus ? start.expand([1, layers, wDim]) : start).copy()
        wOpt.requiresGrad = true
        let noise = g.synthesis.layers.prefix(layers).map { l -> Tensor in
            let t = Tensor(randomNormal: [1, 1, l.resolution, l.resolution], seed: o.seed, stream: UInt32(l.index), step: 0xA015E)
            t.requiresGrad = true
            return t
        }
        let adam = Adam([("w", wOpt)] + noise.enumerated().map { ("noise\($0.offset)", $0.element) },
                        learningRate: o.initialLearningRate, beta1: 0.9, beta2: 0.999)
        for (_, p) in g.parameters { p.requiresGrad = false }
        defer { for (_, p) in g.parameters { p.requiresGrad = true } }
        for step in 0..<o.steps {
            let t = Float(step) / Float(o.steps)
            let noiseScale = wStd * o.initialNoiseFactor * pow(max(0, 1 - t / o.noiseRampLength), 2)
            var ramp = min(1, (1 - t) / o.lrRampdownLength)
            ramp = 0.5 - 0.5 * cos(ramp * .pi)
            ramp *= min(1, t / o.lrRampupLength)
            adam.learningRate = o.initialLearningRate * ramp
            let wNoise = Tensor(randomNormal: wOpt.shape, seed: o.seed, stream: 0x3A, step: UInt32(step)) * noiseScale
            let ws = (wOpt + wNoise).expand([1, layers, wDim])
            let image = g.synthesis(ws, resolution: resolution, noise: .given(noise))
            var dist = distance(image, target) * o.pixelWeight
            if let perceptual, let targetFeatures {
                dist = dist + InceptionV3.perceptualDistance(perceptual.perceptualFeatures(image), targetFeatures) * o.perceptualWeight
            }
            let loss = dist + noiseRegularization(noise) * o.noiseRegularization
            loss.backward()
            let distanceNow = dist.item
            adam.update()
            GradMode.withoutGrad {
                for n in noise {
                    let centred = n - n.mean()
                    n.assign(centred * (1 / (centred.square().mean().item.squareRoot() + 1e-8)))
                }
            }
            progress?(step, distanceNow, image.detached())
        }
        let ws = wOpt.detached().expand([1, layers, wDim]).copy()
        let image = GradMode.withoutGrad { g.synthesis(ws, resolution: resolution, noise: .given(noise.map { $0.detached() })) }
        return Projection(ws: ws, noise: noise.map { $0.detached().copy() }, image: image)
    }
}
