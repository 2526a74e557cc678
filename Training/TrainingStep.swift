// One training iteration, apart from data and files (the trainer and `stylegan bench train` both
// run it): a D step with the chosen loss and its penalty, then a G step with style-mixing
// regularisation, Adam on both, w_avg and the EMA generator. Every random draw is Philox keyed by
// (seed, stream, iteration), so an iteration is a pure function of the state and its number.
// Under data parallelism each rank computes its shard of the global batch, drawing its samples'
// rows of the global draws; gradients, losses and w_avg's batch mean are averaged over ranks, so
// every rank applies the same update.
import Foundation
import StyleGAN

/// Random streams (Philox stream ids); the step is the iteration.
enum Stream: UInt32 {
    case dLatent = 10, dMixLatent, dMixing, gLatent, gMixLatent, gMixing, data, mirror, penalty
    /// The fakes' classes of a conditional run, in the D and the G step.
    case dLabel = 20, gLabel
    /// Augmentation draws: call k of D in a step uses streams base + 2k and base + 2k + 1.
    case augmentD = 30, augmentG = 40
}

public final class TrainingStep {
    public let networks: GAN
    public let adamG: Adam, adamD: Adam
    public let loss: Loss
    public let seed: UInt64
    /// StyleGAN2-ADA's EMA ramp-up (half-life at most 5% of the images shown); off when G starts
    /// trained (`--resume-from`), whose EMA is already an average of many images.
    public var emaRampUp = true
    public let collective: Collective
    let averager: GradientAverager
    /// ADA's pipeline, applied to every image D sees (reals and fakes, in both steps); nil: none.
    public var augment: AugmentPipe?
    /// A conditional run's training labels: each fake takes the class of a random training image
    /// (StyleGAN2-ADA), so the fakes' classes follow the data's.
    public var trainingLabels: [Int]?

    /// Means over the global batch; `realSign` is E[sign(D(reals))], ADA's overfitting measure r_t.
    public struct Stats { public var lossD: Float, lossG: Float, penalty: Float, realSign: Float }

    /// `frozen`: parameter names (of `networks`' G and D) that no step changes (fine-tuning's
    /// FreezeD and frozen mapping); they get no gradient and no optimiser state.
    public init(networks: GAN, loss: Loss, seed: UInt64, collective: Collective = .single, frozen: Set<String> = []) {
        (self.networks, self.collective, self.loss, self.seed) = (networks, collective, loss, seed)
        averager = GradientAverager(collective)
        let trainable = { (p: NamedParameters) in p.filter { !frozen.contains($0.0) } }
        for (name, p) in networks.generator.parameters + networks.discriminator.parameters where frozen.contains(name) { p.requiresGrad = false }
        adamG = Adam(trainable(networks.generator.parameters), learningRate: networks.config.learningRate)
        adamD = Adam(trainable(networks.discriminator.parameters), learningRate: networks.config.learningRate)
    }

    /// The names FreezeD (Mo et al. 2020) freezes: D's first `blocks` blocks from its input side at
    /// `resolution` (its fromRGB stem and blocks R, R/2, ...), and with `mapping` G's mapping network.
    public static func frozenNames(_ networks: GAN, freezeD blocks: Int, resolution r: Int, mapping: Bool) -> Set<String> {
        var prefixes: [String] = blocks > 0 ? ["D.fromrgb\(r)."] : []
        var res = r
        for _ in 0..<blocks { prefixes.append(res > 4 ? "D.block\(res)." : "D.block4."); res = max(4, res / 2) }
        if mapping { prefixes.append("G.mapping.") }
        let names = (networks.generator.parameters + networks.discriminator.parameters).map(\.0)
        return Set(names.filter { n in prefixes.contains { n.hasPrefix($0) } })
    }

    /// ws (n, layers, wDim) of the pass's samples of the global batch with style mixing: with
    /// probability p (one draw for the whole batch), the layers from a random crossover point
    /// (among those in use) take a second latent's w. Also returns the first w.
    func styles(_ latent: Stream, _ mixLatent: Stream, _ mixing: Stream, _ pass: Pass, labels: Tensor?, cache: FrozenWeights?) -> (ws: Tensor, w: Tensor) {
        let g = networks.generator, c = networks.config, used = pass.layers
        let z = Tensor(randomNormal: [pass.batch, c.zDim], rows: pass.samples, seed: seed, stream: latent.rawValue, step: pass.step)
        let w = g.mapping(z, labels: labels, cache: cache)
        let ws = g.broadcast(w).narrow(axis: 1, start: 0, length: used)
        let u = Tensor(randomUniform: [2], seed: seed, stream: mixing.rawValue, step: pass.step).scalars
        guard used > 1, u[0] < c.styleMixingProb else { return (ws, w) }
        let cutoff = 1 + min(used - 2, Int(u[1] * Float(used - 1)))
        let z2 = Tensor(randomNormal: [pass.batch, c.zDim], rows: pass.samples, seed: seed, stream: mixLatent.rawValue, step: pass.step)
        let ws2 = g.broadcast(g.mapping(z2, labels: labels, cache: cache)).narrow(axis: 1, start: 0, length: used)
        return (concat([ws.narrow(axis: 1, start: 0, length: cutoff), ws2.narrow(axis: 1, start: cutoff, length: used - cutoff)], axis: 1), w)
    }

    /// A D step and a G step at `pos` with learning rate `lr`; the reals are this rank's shard
    /// (`Shard.samples`) of a global batch of shard size x ranks. nil if a loss or a gradient was
    /// not finite on any rank (then nothing was updated anywhere). `nimg` (images shown before
    /// this step) drives the EMA ramp-up. Stats are means over the global batch. A conditional
    /// network needs the reals' classes (`labels`, this rank's shard) and `trainingLabels`.
    /// `trainG` false: D's step alone (a D warm-up against a pretrained G); G, w_avg and the EMA
    /// stay as they are and lossG is 0.
    public func run(reals realImages: Tensor, labels: [Int]? = nil, resolution r: Int, alpha: Float, lr: Float, iteration: Int, nimg: Int,
                    trainG: Bool = true) -> Stats? {
        let batch = realImages.shape[0] * collective.size
        let config = networks.config
        precondition(config.isConditional == (labels != nil) && labels.map { $0.count == realImages.shape[0] } != false,
                     "TrainingStep: a conditional network needs one label per real, an unconditional one none")
        precondition(!config.isConditional || trainingLabels?.isEmpty == false, "TrainingStep: a conditional run needs trainingLabels")
        let pass = Pass(resolution: r, alpha: alpha, iteration: iteration, batch: batch,
                        samples: Shard(rank: collective.rank, size: collective.size).samples(of: batch),
                        realLabels: labels.map { Tensor(oneHot: $0, classes: config.classCount) })
        (adamG.learningRate, adamD.learningRate) = (lr, lr)
        // Each step is its own method so that its graph (a loss holds every activation behind it)
        // is released before the next step builds one: at 128 px the D step's graph is 1.4 GB.
        guard let (lossD, penalty, realSign) = discriminatorStep(pass, reals: realImages) else { return nil }
        guard trainG else { return Stats(lossD: lossD, lossG: 0, penalty: penalty, realSign: realSign) }
        guard let (lossG, w) = generatorStep(pass, reals: realImages) else { return nil }

        GradMode.withoutGrad {
            // w_avg <- lerp(batch mean, w_avg, beta), NVlabs' dlatent_avg; the mean of equal
            // shards' means is the global batch's mean.
            let g = networks.generator
            let mean = w.mean(axes: [0], keepDims: false)
            if collective.size > 1 {
                mean.withUnsafeMutableBufferPointer { collective.sum($0.baseAddress!, count: $0.count) }
                mean.scaleInPlace(by: 1 / Float(collective.size))
            }
            g.wAvg.assign(mean + (g.wAvg - mean) * networks.config.wAvgBeta)
            updateEMA(nimg: nimg, batch: batch)
        }
        return Stats(lossD: lossD, lossG: lossG, penalty: penalty, realSign: realSign)
    }

    /// What both steps of one iteration share.
    struct Pass {
        let resolution: Int, alpha: Float, iteration: Int, batch: Int
        /// This rank's samples of the global batch.
        let samples: [Int]
        /// The reals' classes, one-hot (conditional networks).
        var realLabels: Tensor? = nil
        var layers: Int { Config.layerCount(at: resolution) }
        /// The Philox step of every draw of the iteration.
        var step: UInt32 { UInt32(truncatingIfNeeded: iteration) }
    }

    /// The noise maps of this rank's samples for one synthesis pass of the step (`salt` tells
    /// the D step's fakes from the G step's).
    func noise(_ pass: Pass, salt: UInt64) -> NoiseInput {
        let key = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(pass.iteration) &* 4 &+ salt
        return .given(networks.generator.synthesis.noiseMaps(seed: key, samples: pass.samples, of: pass.batch, layers: pass.layers).map { $0! })
    }

    /// The fakes' classes for one step of a conditional run (one-hot, this rank's samples): the
    /// classes of random training images.
    func fakeLabels(_ pass: Pass, _ stream: Stream) -> Tensor? {
        guard let all = trainingLabels, networks.config.isConditional else { return nil }
        let u = Tensor(randomUniform: [pass.batch], rows: pass.samples, seed: seed, stream: stream.rawValue, step: pass.step).scalars
        return Tensor(oneHot: u.map { all[min(all.count - 1, Int($0 * Float(all.count)))] }, classes: networks.config.classCount)
    }

    /// `x` under this step's augmentation draws for D's call `call` (each call its own draws).
    func augmented(_ x: Tensor, _ pass: Pass, _ base: Stream, call: Int) -> Tensor {
        guard let augment, augment.p > 0 else { return x }
        let draws = augment.draws(batch: pass.batch, samples: pass.samples, size: (x.shape[3], x.shape[2]), seed: seed,
                                  stream: base.rawValue + 2 * UInt32(call), step: pass.step)
        return augment.apply(x, draws: draws)
    }

    /// D's loss on reals and no-grad fakes with its penalty, backward, averaged, Adam. Returns the
    /// global means of the loss, the penalty and sign(D(reals)); nil (nothing updated) if the loss
    /// or a gradient is not finite.
    func discriminatorStep(_ pass: Pass, reals: Tensor) -> (loss: Float, penalty: Float, realSign: Float)? {
        let (g, d) = (networks.generator, networks.discriminator)
        d.powerStep()
        // Neither network changes until Adam: what each derives from its weights is made once,
        // and D's Winograd transforms serve the reals, the fakes, R1 and all their backwards.
        let fakeLabels = fakeLabels(pass, .dLabel)
        let stats: [Double]? = FrozenWeights.during(keepingTransformsOf: d.parameters) { cache in
            let fakes: Tensor = GradMode.withoutGrad {
                let (ws, _) = styles(.dLatent, .dMixLatent, .dMixing, pass, labels: fakeLabels, cache: cache)
                return g.synthesis(ws, resolution: pass.resolution, alpha: pass.alpha, noise: noise(pass, salt: 1), cache: cache)
            }
            let eps = Tensor(randomUniform: [pass.batch, 1, 1, 1], rows: pass.samples, seed: seed, stream: Stream.penalty.rawValue, step: pass.step)
            // Every image D sees is augmented (R1 differentiates through the augmentation of the
            // reals); D's output on the reals gives r_t. Images other than the fakes (WGAN-GP's
            // interpolates) are scored as of the reals' classes.
            var calls = 0
            var realLogits: Tensor?
            var classLogits: (real: Tensor?, fake: Tensor?)
            var (lossD, penalty) = loss.discriminatorLoss(d: { x in
                let out = d.forward(augmented(x, pass, .augmentD, call: calls), labels: x === fakes ? fakeLabels : pass.realLabels,
                                    alpha: pass.alpha, cache: cache)
                if x === reals { (realLogits, classLogits.real) = (out.score, out.classLogits) }
                if x === fakes { classLogits.fake = out.classLogits }
                calls += 1
                return out.score
            }, reals: reals, fakes: fakes, step: pass.iteration, interpolation: eps)
            if let real = classLogits.real, let fake = classLogits.fake {
                // ACGAN: D learns to classify both the reals and the fakes.
                lossD = lossD + classCrossEntropy(logits: real, labels: pass.realLabels!) + classCrossEntropy(logits: fake, labels: fakeLabels!)
            }
            let signs = realLogits!.scalars.reduce(0.0) { $0 + ($1 > 0 ? 1 : $1 < 0 ? -1 : 0) } / Double(realLogits!.count)
            // A NaN on any rank makes the mean NaN: all ranks skip together.
            let stats = collective.mean([Double(lossD.item), Double(penalty), signs])
            guard stats[0].isFinite else { return nil }
            lossD.backward()
            averager.average(adamD.parameters)
            return gradientsFinite(adamD) ? stats : nil
        }
        guard let stats else { adamD.zeroGrad(); return nil }
        adamD.update()
        if case let .wgan(clip) = loss { clipEffectiveWeights(d, clip: clip) }
        return (Float(stats[0]), Float(stats[1]), Float(stats[2]))
    }

    /// G's loss through a frozen D with style mixing, backward, averaged, Adam. Returns the global
    /// mean loss and the step's first w (detached, for w_avg); nil (nothing updated) if not finite.
    func generatorStep(_ pass: Pass, reals: Tensor) -> (loss: Float, w: Tensor)? {
        let (g, d) = (networks.generator, networks.discriminator)
        // D's weights are constants here, so their gradients are not computed at all.
        for (_, p) in d.parameters { p.requiresGrad = false }
        defer { for (_, p) in adamD.parameters { p.requiresGrad = true } }
        g.powerStep()
        let fakeLabels = fakeLabels(pass, .gLabel)
        let result: (stats: [Double], w: Tensor)? = FrozenWeights.during(keepingTransformsOf: g.parameters + d.parameters) { cache in
            let (ws, w) = styles(.gLatent, .gMixLatent, .gMixing, pass, labels: fakeLabels, cache: cache)
            let fakes = g.synthesis(ws, resolution: pass.resolution, alpha: pass.alpha, noise: noise(pass, salt: 2), cache: cache)
            var calls = 0
            var fakeClassLogits: Tensor?
            var lossG = loss.generatorLoss(d: { x in
                defer { calls += 1 }
                let out = d.forward(augmented(x, pass, .augmentG, call: calls), labels: x === fakes ? fakeLabels : pass.realLabels,
                                    alpha: pass.alpha, cache: cache)
                if x === fakes { fakeClassLogits = out.classLogits }
                return out.score
            }, fakes: fakes, reals: loss.needsRealsForGenerator ? reals.detached() : nil)
            // ACGAN: G also makes its fakes classifiable as their classes.
            if let logits = fakeClassLogits { lossG = lossG + classCrossEntropy(logits: logits, labels: fakeLabels!) }
            let stats = collective.mean([Double(lossG.item)])
            guard stats[0].isFinite else { return nil }
            lossG.backward()
            averager.average(adamG.parameters)
            return gradientsFinite(adamG) ? (stats, w.detached()) : nil
        }
        guard let result else { adamG.zeroGrad(); return nil }
        adamG.update()
        return (Float(result.stats[0]), result.w)
    }

    func gradientsFinite(_ opt: Adam) -> Bool {
        opt.parameters.allSatisfy { _, p in p.grad?.isFinite ?? true }
    }

    /// WGAN's weight clipping applies to the weights as used (stored x run-time scale).
    func clipEffectiveWeights(_ d: Discriminator, clip: Float) {
        let trainable = Set(adamD.parameters.map { ObjectIdentifier($0.1) })
        for (p, scale) in d.runtimeScales where trainable.contains(ObjectIdentifier(p)) {
            let bound = clip / scale
            p.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = min(max($0[i], -bound), bound) } }
        }
    }

    /// EMA of G, half-life 10 kimg, with stylegan2-ada's ramp-up (min(10 kimg, 5% of the images shown
    /// so far)) unless `emaRampUp` is off.
    func updateEMA(nimg: Int, batch: Int) {
        let full = networks.config.emaHalfLifeKimg * 1000
        let halfLife = emaRampUp ? min(full, Double(nimg + batch) * 0.05) : full
        let beta = Float(pow(0.5, Double(batch) / max(halfLife, 1e-8)))
        let trained = Dictionary(uniqueKeysWithValues: networks.generator.parameters)
        for (name, e) in networks.ema.parameters { e.lerpInPlace(toward: trained[name]!, by: 1 - beta) }
        // Buffers follow G exactly (NVlabs copies non-trainables with beta 0).
        assignByName(networks.ema.buffers, from: networks.generator.buffers)
    }
}
