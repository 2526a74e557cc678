// Caching what is derived from frozen weights changes generation by no bit and D's gradients by
// rounding only, really reuses D's Winograd transforms across the reals, the fakes and R1, and
// cannot go stale: Adam refuses to run while an open cache holds something derived from its
// parameters, and a closed cache serves nothing.
import Testing
@testable import StyleGAN
@testable import Training

@Suite("Frozen weights")
struct FrozenWeightsTests {
    static func makeStep() -> TrainingStep {
        var c = Config.small64
        c.batchSize = 4
        let networks = GradMode.withoutGrad { GAN(config: c, seed: 0) }
        return TrainingStep(networks: networks, loss: .logistic(r1: 10, r1Every: 1), seed: 0)
    }

    /// A D loss with R1 and its backward, as the D step runs it; returns D's gradients.
    static func discriminatorGradients(_ step: TrainingStep, cache: FrozenWeights? = nil) -> [Tensor] {
        let (g, d) = (step.networks.generator, step.networks.discriminator)
        let reals = Tensor(randomNormal: [4, 3, 16, 16], seed: 10)
        let z = Tensor(randomNormal: [4, g.config.zDim], seed: 11)
        let fakes = GradMode.withoutGrad { g(z, resolution: 16, alpha: 0.5, noise: .random(seed: 12)) }
        let eps = Tensor(randomUniform: [4, 1, 1, 1], seed: 13)
        let (loss, _) = step.loss.discriminatorLoss(d: { d($0, alpha: 0.5, cache: cache) }, reals: reals, fakes: fakes, step: 0, interpolation: eps)
        loss.backward()
        defer { step.adamD.zeroGrad() }
        return d.parameters.map { $0.1.grad ?? Tensor(zeros: $0.1.shape) }
    }

    /// Each named gradient of `cached` equals `plain`'s within `tolerance` of its largest entry.
    static func expectClose(_ names: [String], _ cached: [Tensor], _ plain: [Tensor], tolerance: Float) {
        for (name, (a, b)) in zip(names, zip(cached, plain)) {
            let scale = b.scalars.map(abs).max() ?? 0
            let diff = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(diff <= tolerance * scale + 1e-12, "\(name): differs by \(diff), largest gradient \(scale)")
        }
    }

    @Test func generationIsBitwiseTheSame() {
        let g = Self.makeStep().networks.generator
        let z = Tensor(randomNormal: [4, g.config.zDim], seed: 1)
        func images(_ cache: FrozenWeights?) -> [Float] { GradMode.withoutGrad { g(z, resolution: 16, alpha: 0.5, noise: .random(seed: 2), cache: cache) }.scalars }
        let plain = images(nil)
        let cached = FrozenWeights.during(keepingTransformsOf: g.parameters) { images($0) }
        #expect(plain.count == cached.count && plain == cached)
    }

    /// Sharing one scaled weight between the reals' and the fakes' graphs sums their gradients
    /// before the scale instead of after: the same up to rounding.
    @Test func discriminatorGradientsAreTheSame() {
        let step = Self.makeStep()
        let d = step.networks.discriminator
        let plain = Self.discriminatorGradients(step)
        let cached = FrozenWeights.during(keepingTransformsOf: d.parameters) { Self.discriminatorGradients(step, cache: $0) }
        Self.expectClose(d.parameters.map(\.0), cached, plain, tolerance: 1e-5)
    }

    /// The G step's path: G's loss through a frozen D, with both networks' derived weights cached
    /// (as `TrainingStep.generatorStep` runs it), gives G the gradients it gets without a cache.
    @Test(arguments: [(16, Float(1)), (16, 0.5), (32, 1), (64, 0.3)])
    func generatorGradientsAreTheSame(_ r: Int, _ alpha: Float) {
        let step = Self.makeStep()
        let (g, d) = (step.networks.generator, step.networks.discriminator)
        for (_, p) in d.parameters { p.requiresGrad = false }
        let z = Tensor(randomNormal: [4, g.config.zDim], seed: 21)
        func gradients(_ cache: FrozenWeights?) -> [Tensor] {
            let w = g.mapping(z, cache: cache)
            let ws = g.broadcast(w).narrow(axis: 1, start: 0, length: Config.layerCount(at: r))
            let fakes = g.synthesis(ws, resolution: r, alpha: alpha, noise: .random(seed: 22), cache: cache)
            step.loss.generatorLoss(d: { d($0, alpha: alpha, cache: cache) }, fakes: fakes, reals: nil).backward()
            defer { step.adamG.zeroGrad() }
            return g.parameters.map { $0.1.grad ?? Tensor(zeros: $0.1.shape) }
        }
        let plain = gradients(nil)
        let cached = FrozenWeights.during(keepingTransformsOf: g.parameters + d.parameters) { gradients($0) }
        Self.expectClose(g.parameters.map(\.0), cached, plain, tolerance: 1e-4)
    }

    @Test func discriminatorTransformsAreMadeOncePerStretch() {
        let step = Self.makeStep()
        let d = step.networks.discriminator
        let x = Tensor(randomNormal: [4, 3, 16, 16], seed: 3, requiresGrad: true)
        var kept: FrozenWeights?
        FrozenWeights.during(keepingTransformsOf: d.parameters) { cache in
            kept = cache
            func r1Loss() -> Tensor {
                let score = d(x, alpha: 0.5, cache: cache).sum()
                let g = gradients(of: [score], wrt: [x], createGraph: true)[0]
                return score + (g * g).sum()
            }
            r1Loss().backward()
            let made = cache.transformsMade
            #expect(made > 0)
            r1Loss().backward()  // a second forward, R1 and backward: nothing new to transform
            #expect(cache.transformsMade == made)
            #expect(d.parameters.contains { FrozenWeights.isFrozen($0.1) })
        }
        // Closed: nothing is frozen any more, and a forward given the old cache makes nothing.
        #expect(!d.parameters.contains { FrozenWeights.isFrozen($0.1) })
        let made = kept!.transformsMade
        _ = d(x, alpha: 0.5, cache: kept)
        #expect(kept!.transformsMade == made)
    }

    @Test func adamRefusesToRunWhileFrozen() async {
        await #expect(processExitsWith: .failure) {
            let step = FrozenWeightsTests.makeStep()
            let d = step.networks.discriminator
            FrozenWeights.during(keepingTransformsOf: d.parameters) { cache in
                _ = d(Tensor(randomNormal: [4, 3, 16, 16], seed: 3), alpha: 0.5, cache: cache)
                step.adamD.update()
            }
        }
    }
}
