// A training run: options, the dataset, the progressive schedule, the reals of each iteration
// (faded exactly as the fakes), and the training state in checkpoints. Every piece of state is
// in the checkpoint and every random draw is keyed by the iteration, so a resumed run replays
// exactly what an uninterrupted one does. With several ranks (options.collective), each loads
// its shard of every batch and rank 0 alone writes files (Trainer+DataParallel.swift).
import Foundation
import StyleGAN

public struct TrainOptions {
    public var data: String
    public var outdir: String
    public var config: Config
    /// Total images shown at which the run ends (thousands), counted from the run's start.
    public var totalKimg: Double
    // The run's settings: nil where not given, which on resume means the run's own (recorded in
    // its checkpoint) and otherwise the default.
    public var resolution: Int?
    public var batch: Int?
    public var seed: UInt64 = 0
    /// A loss name (`Loss.names`; default logistic) and, for the logistic loss, R1's gamma
    /// (default 10) and interval (default 1).
    public var lossName: String?
    public var r1Gamma: Float?
    public var r1Every: Int?
    /// Random x-flips of the reals (default off).
    public var mirror: Bool?
    public var phaseKimg: Double?
    /// "latest" or a checkpoint path.
    public var resume: String?
    /// A new run starting from a pretrained network (a checkpoint, or a generator-only file whose
    /// D then starts untrained) at its resolution, with fresh optimiser state.
    public var resumeFrom: String?
    /// Checkpoint + snapshot interval (thousands of images); default half a phase.
    public var snapshotKimg: Double?
    /// Metrics at every snapshot into stats.jsonl ("fid5k", "kid10k": Inception FID / KID of that
    /// many images of the EMA generator against as many reals); nil: the run's (none by default).
    public var metrics: [String]?
    /// The converted Inception network (default: InceptionV3.defaultPath).
    public var inceptionPath: String?
    /// Fine-tuning: freeze D's first K blocks from its input side (FreezeD), and G's mapping
    /// network; nil: the run's (none by default).
    public var freezeD: Int?
    public var freezeMapping: Bool?
    /// Fine-tuning: train D alone for the first K kimg of the run (G and its EMA unchanged), so
    /// that a pretrained G meets a D that has learnt the data; nil: the run's (0 by default).
    public var dWarmupKimg: Double?
    /// ADA: "none", "fixed" (p stays at `augmentP`) or "ada" (p starts at `augmentP`, default 0,
    /// and moves toward r_t = `adaTarget`, default 0.6, fast enough to go 0 -> 1 in `adaKimg`,
    /// default 500); nil: the run's (none by default).
    public var augment: String?
    public var augmentP: Float?
    public var adaTarget: Float?
    public var adaKimg: Double?
    /// Class-conditional training on a labelled dataset (`prepare --labels`), and how D uses the
    /// class ("projection" or "acgan"; `Config.ConditionalD`); nil: the run's (unconditional).
    public var conditional: Bool?
    public var conditionalD: String?
    /// StyleGAN2's weight demodulation in place of AdaIN (`Config.demodulate`): a new run's choice;
    /// a resumed or pretrained network keeps its own (nil: the network's; off for a new run).
    public var demodulate: Bool?
    public var keepCheckpoints = 3
    public var maxRetries = 3
    public var progress = true
    /// Iterations whose step is treated as non-finite (tests of the recovery path).
    public var failAtIterations: Set<Int> = []
    /// The process group (`Collective.world()` under mpirun); the configured batch is the global
    /// batch, split across its ranks.
    public var collective: Collective = .single
    /// Debug: every rank appends "iteration nimg checksum" of its whole training state to
    /// RUN/rank-checksums-K.txt after each iteration (tests compare ranks bit for bit).
    public var rankChecksums = false

    public init(data: String, outdir: String, config: Config, totalKimg: Double) {
        (self.data, self.outdir, self.config, self.totalKimg) = (data, outdir, config, totalKimg)
    }
}

/// Set by SIGINT / SIGTERM; the loop checkpoints and stops at the end of the iteration.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

public final class Trainer {
    public let options: TrainOptions
    let run: RunFolder
    let dataset: DatasetCache
    /// The networks: the run's live model, also read by `step`.
    let gan: GAN
    let schedule: ProgressiveSchedule
    let step: TrainingStep
    /// The settings in force: the options given, else on resume the run's, else the defaults.
    var loss: Loss { step.loss }
    let mirror: Bool
    let finalResolution: Int
    let metrics: [SnapshotMetric]
    let freezeD: Int
    let freezeMapping: Bool
    let dWarmupKimg: Double
    let augment: AugmentMode
    /// ADA's running sum and count of sign(D(reals)) since p was last adjusted.
    var adaSigns = (sum: 0.0, count: 0)
    let inception: InceptionV3?
    /// The resolution the run started at: 4, or a pretrained network's (`--resume-from`).
    let startResolution: Int
    let resumedFrom: String?
    let snapshotKimg: Double?
    var adamG: Adam { step.adamG }
    var adamD: Adam { step.adamD }
    var nimg = 0, iteration = 0
    /// Learning-rate factor per phase, halved after a non-finite step.
    var lrScale: [Int: Float] = [:]
    var lastPhase = -1
    var permutation: (epoch: Int, order: [Int]) = (-1, [])
    let seed: UInt64
    var collective: Collective { options.collective }

    public init(_ options: TrainOptions) throws {
        self.options = options
        run = try RunFolder(options.outdir)
        dataset = try DatasetCache.open(options.data)
        var config = options.config
        if let p = options.phaseKimg { config.phaseKimg = p }
        if let b = options.batch { (config.batchSize, config.batchByResolution) = (b, nil) }
        try config.validate()

        let resumed = try options.resume.map { [run] in try Trainer.resumeCheckpoint($0, run: run) }
        if let c = resumed?.config {
            // The checkpoint's networks decide the config, and the run's schedule, batch and loss
            // go on unless an option given here changes them: resuming with a shorter command
            // line must not silently train on another schedule.
            if c.name != options.config.name { Trainer.note("resuming with the checkpoint's config '\(c.name)'") }
            config = c
            config.phaseKimg = Trainer.setting("phase-kimg", given: options.phaseKimg, run: c.phaseKimg, default: c.phaseKimg)
            if let b = options.batch {
                if b != c.batchSize || c.batchByResolution != nil { Trainer.note("--batch \(b) replaces the run's batch sizes") }
                (config.batchSize, config.batchByResolution) = (b, nil)
            }
        }
        var pretrained: Checkpoint?
        if let source = options.resumeFrom {
            guard options.resume == nil else { throw StyleGANError.training("--resume-from starts a new run; it cannot be combined with --resume") }
            guard run.checkpoints().isEmpty else {
                throw StyleGANError.training("\(run.path) already holds a run; continue it with --resume latest, or give --resume-from a new --outdir")
            }
            let p = try Trainer.pretrainedCheckpoint(source, seed: options.seed)
            if let b = options.batch { (p.config.batchSize, p.config.batchByResolution) = (b, nil) }
            if let k = options.phaseKimg { p.config.phaseKimg = k }
            config = p.config
            pretrained = p
        }
        let network = resumed != nil ? "the checkpoint" : pretrained != nil ? options.resumeFrom : nil
        config = try Trainer.conditioned(config, options: options, dataset: dataset, network: network)
        if let demodulate = options.demodulate {
            if let network, demodulate != (config.demodulate == true) {
                throw StyleGANError.training("--\(demodulate ? "" : "no-")demod: \(network)'s generator \(demodulate ? "uses AdaIN" : "demodulates"); the architecture is the network's")
            }
            config.demodulate = demodulate ? true : nil
        }
        let saved = try resumed.map { r -> TrainingState in
            guard let s = try TrainingState(metadata: r.extraMetadata) else {
                throw StyleGANError.training("checkpoint has no training state (made by `stylegan init`?); start a new run instead of resuming")
            }
            return s
        }
        let recorded = saved ?? TrainingState()  // the run's settings: none when starting
        let loss = try Loss(name: Trainer.setting("loss", given: options.lossName, run: recorded.loss, default: "logistic"),
                        r1Gamma: Trainer.setting("r1-gamma", given: options.r1Gamma, run: recorded.r1Gamma, default: 10),
                        r1Every: Trainer.setting("r1-every", given: options.r1Every, run: recorded.r1Every, default: 1))
        mirror = Trainer.setting("mirror", given: options.mirror, run: recorded.mirror, default: false)
        snapshotKimg = options.snapshotKimg ?? recorded.snapshotKimg
        metrics = try (options.metrics ?? recorded.metrics ?? []).map(SnapshotMetric.init)
        // Refused before any step when the network is missing (its error says how to get it).
        inception = metrics.isEmpty ? nil : try InceptionV3.load(options.inceptionPath)
        let final = min(Trainer.setting("resolution", given: options.resolution, run: recorded.resolution, default: config.resolution), config.resolution)
        guard config.resolutions.contains(final) else { throw StyleGANError.training("--resolution \(final) is not one of \(config.resolutions)") }
        guard dataset.resolution >= 4 else { throw StyleGANError.training("dataset resolution \(dataset.resolution) too small") }
        finalResolution = final
        let start = pretrained?.resolution ?? recorded.startResolution ?? 4
        guard dataset.resolution >= start, final >= start else {
            throw StyleGANError.training("the pretrained network is \(start)x\(start) but the data is \(dataset.resolution)x\(dataset.resolution)"
                                + (final < start ? " and --resolution \(final)" : "") + "; prepare the data at \(start) px")
        }
        startResolution = start
        resumedFrom = pretrained.map { _ in options.resumeFrom! } ?? recorded.resumedFrom
        schedule = ProgressiveSchedule(phaseKimg: config.phaseKimg, finalResolution: min(final, dataset.resolution), startResolution: start)
        for r in config.resolutions {
            let b = config.batchSize(at: r), group = min(config.mbstdGroupSize, b)
            guard config.mbstdGroupSize <= 1 || b % group == 0 else {
                throw StyleGANError.training("batch \(b) at \(r) px is not divisible by the minibatch-stddev group size \(group)")
            }
            try Trainer.checkShards(batch: b, resolution: r, ranks: options.collective.size, groupSize: config.mbstdGroupSize)
        }

        if let resumed { resumed.config = config }
        gan = resumed?.gan ?? pretrained?.gan ?? GradMode.withoutGrad { GAN(config: config, seed: options.seed) }
        seed = recorded.seed ?? options.seed
        freezeD = Trainer.setting("freeze-d", given: options.freezeD, run: recorded.freezeD, default: 0)
        freezeMapping = Trainer.setting("freeze-mapping", given: options.freezeMapping, run: recorded.freezeMapping, default: false)
        let dBlocks = log2(schedule.finalResolution) - 1  // blocks 8 px and up, and the 4x4 epilogue
        guard (0...dBlocks).contains(freezeD) else {
            throw StyleGANError.training("--freeze-d \(freezeD): D has \(dBlocks) blocks at \(schedule.finalResolution) px")
        }
        dWarmupKimg = Trainer.setting("d-warmup-kimg", given: options.dWarmupKimg, run: recorded.dWarmupKimg, default: 0)
        let frozen = TrainingStep.frozenNames(gan, freezeD: freezeD, resolution: schedule.finalResolution, mapping: freezeMapping)
        step = TrainingStep(networks: gan, loss: loss, seed: seed, collective: options.collective, frozen: frozen)
        step.emaRampUp = resumedFrom == nil
        step.trainingLabels = config.isConditional ? dataset.labels : nil
        augment = try AugmentMode(name: Trainer.setting("aug", given: options.augment, run: recorded.augment, default: "none"),
                                  target: Trainer.setting("ada-target", given: options.adaTarget, run: recorded.adaTarget, default: 0.6),
                                  kimg: Trainer.setting("ada-kimg", given: options.adaKimg, run: recorded.adaKimg, default: 500))
        if augment == .none && options.augmentP != nil { throw StyleGANError.training("--p needs --aug fixed or --aug ada") }
        if augment == .fixed && options.augmentP == nil && recorded.augmentP == nil {
            throw StyleGANError.training("--aug fixed needs --p (the augmentation probability)")
        }
        // On resume p continues from the checkpoint unless --p is given.
        if augment != .none { step.augment = AugmentPipe(p: options.augmentP ?? recorded.augmentP ?? 0) }
        if let resumed, let saved { try restoreState(saved, resumed.state) }
        try checkRanksAgree()
    }

    /// A setting's value: the option given (with a note where it changes the run's), else the
    /// run's own (nil when starting, or in a checkpoint from before it was recorded), else the default.
    static func setting<T: Equatable>(_ option: String, given: T?, run: T?, default value: T) -> T {
        if let given {
            if let run, run != given {
                let flag = (given as? Bool).map { $0 ? "--\(option)" : "--no-\(option)" } ?? "--\(option) \(given)"
                note("\(flag) replaces the run's \(run)")
            }
            return given
        }
        return run ?? value
    }

    /// The config with the classes of a conditional run: a new run's from the data (`--cond`), a
    /// resumed or pretrained `network`'s checked against the data, which must hold as many classes.
    static func conditioned(_ config: Config, options: TrainOptions, dataset: DatasetCache, network: String?) throws -> Config {
        var c = config
        let wanted = options.conditionalD.flatMap(Config.ConditionalD.init(rawValue:))
        if options.conditionalD != nil && wanted == nil {
            throw StyleGANError.training("--cond-loss \(options.conditionalD!): choose one of \(Config.ConditionalD.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if options.conditionalD != nil && options.conditional != true && !(network != nil && c.isConditional) {
            throw StyleGANError.training("--cond-loss needs --cond (class-conditional training)")
        }
        let needLabels = "prepare the data with --labels subfolders or --labels dataset.json"
        if let network {
            // The architecture is the network's: its classes and its D's use of them.
            if options.conditional == true && !c.isConditional {
                throw StyleGANError.training("--cond: \(network) is an unconditional network; a conditional run starts from scratch or from a conditional network")
            }
            if options.conditional == false && c.isConditional {
                throw StyleGANError.training("--no-cond: \(network) is a conditional network of \(c.classCount) classes")
            }
            if let wanted, c.isConditional, wanted != c.discriminatorConditioning {
                throw StyleGANError.training("--cond-loss \(wanted.rawValue): \(network)'s discriminator uses \(c.discriminatorConditioning!.rawValue)")
            }
        } else if options.conditional == true {
            guard dataset.labels != nil else { throw StyleGANError.training("--cond: \(dataset.path) has no labels; \(needLabels)") }
            (c.classes, c.conditionalD) = (dataset.classCount, wanted ?? .projection)
        }
        if c.isConditional {
            guard dataset.labels != nil else {
                throw StyleGANError.training("the network is conditional (\(c.classCount) classes) but \(dataset.path) has no labels; \(needLabels)")
            }
            guard dataset.classCount == c.classCount else {
                throw StyleGANError.training("the network has \(c.classCount) classes but \(dataset.path) has \(dataset.classCount)")
            }
        }
        return c
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }

    /// The networks of a pretrained file with no training state: G and D of a checkpoint, or a
    /// generator-only file's G (as both G and its EMA) and an untrained D from `seed`.
    static func pretrainedCheckpoint(_ path: String, seed: UInt64) throws -> Checkpoint {
        var p: Checkpoint
        if let full = try? Checkpoint.load(from: path) {
            p = full
        } else {
            let w = try GeneratorWeights.load(from: path)
            note("\(path) holds no discriminator: D starts untrained (seed \(seed))")
            p = GradMode.withoutGrad { Checkpoint(config: w.config, seed: seed) }
            GradMode.withoutGrad {
                for g in [p.generator, p.ema] { assignByName(g.parameters + g.buffers, from: w.generator.parameters + w.generator.buffers) }
            }
            (p.resolution, p.alpha) = (w.resolution, w.alpha)
        }
        guard p.alpha == 1 else {
            throw StyleGANError.training("\(path) was saved during a fade-in (alpha \(p.alpha)); start from a checkpoint of a stable phase")
        }
        (p.state, p.extraMetadata, p.kimg) = ([], [:], 0)
        return p
    }

    static func resumeCheckpoint(_ spec: String, run: RunFolder) throws -> Checkpoint {
        if spec != "latest" { return try Checkpoint.load(from: spec) }
        // The newest checkpoint that loads; a damaged newest one falls back to the one before.
        var lastError: Error?
        for c in run.checkpoints().reversed() {
            do { return try Checkpoint.load(from: c.path) } catch {
                FileHandle.standardError.write(Data("warning: skipping \(c.path): \(error)\n".utf8))
                lastError = error
            }
        }
        throw StyleGANError.training("--resume latest: no usable checkpoint in \(run.path)" + (lastError.map { " (\($0))" } ?? ""))
    }

    // MARK: - State in checkpoints

    /// The run's counters and settings now.
    var state: TrainingState {
        var s = TrainingState()
        (s.nimg, s.iteration, s.adamGStep, s.adamDStep, s.lastPhase, s.lrScale) = (nimg, iteration, adamG.step, adamD.step, lastPhase, lrScale)
        (s.seed, s.loss, s.mirror, s.resolution, s.startResolution) = (seed, loss.name, mirror, finalResolution, startResolution)
        (s.snapshotKimg, s.resumedFrom, s.freezeD, s.freezeMapping, s.dWarmupKimg) = (snapshotKimg, resumedFrom, freezeD, freezeMapping, dWarmupKimg)
        s.metrics = metrics.isEmpty ? nil : metrics.map(\.name)
        if augment != .none { (s.augment, s.augmentP) = (augment.name, step.augment?.p) }
        if case let .ada(target, kimg) = augment {
            (s.adaTarget, s.adaKimg, s.adaSignSum, s.adaSignCount) = (target, kimg, adaSigns.sum, adaSigns.count)
        }
        if case let .logistic(gamma, every) = loss { (s.r1Gamma, s.r1Every) = (gamma, every) }
        return s
    }

    func saveCheckpoint() throws -> String {
        let kimg = Double(nimg) / 1000
        let pos = schedule.position(kimg: kimg)
        let ckpt = Checkpoint(gan: gan, kimg: kimg, resolution: pos.resolution, alpha: pos.alpha,
                              state: adamG.stateTensors(prefix: "state.adam_g") + adamD.stateTensors(prefix: "state.adam_d"),
                              extraMetadata: state.metadata)
        let path = run.checkpointPath(nimg: nimg)
        guard collective.isRoot else { return path }
        do { try ckpt.save(to: path) } catch {
            throw StyleGANError.training("could not write checkpoint \(path): \(error). Earlier checkpoints are intact; free space or fix the folder, then resume with --resume latest")
        }
        run.prune(keep: options.keepCheckpoints)
        return path
    }

    /// Counters and optimiser moments from a checkpoint's state (p is set by init and kept by a roll-back).
    func restoreState(_ s: TrainingState, _ tensors: NamedParameters) throws {
        (nimg, iteration, lastPhase, lrScale) = (s.nimg, s.iteration, s.lastPhase, s.lrScale)
        adaSigns = (s.adaSignSum ?? 0, s.adaSignCount ?? 0)
        let moments = Dictionary(uniqueKeysWithValues: tensors.map { ($0.0, $0.1) })
        try adamG.load(state: moments, prefix: "state.adam_g", step: s.adamGStep)
        try adamD.load(state: moments, prefix: "state.adam_d", step: s.adamDStep)
    }

    /// Reloads weights and optimiser state from a checkpoint file, keeping the counters. Rank 0
    /// reads the file (the only one sure to have it) and sends the state to the others.
    func rollBack(to path: String) throws {
        if collective.isRoot {
            let r = try Checkpoint.load(from: path)
            GradMode.withoutGrad { assignByName(gan.namedTensors, from: r.gan.namedTensors) }
            guard let saved = try TrainingState(metadata: r.extraMetadata) else { throw StyleGANError.training("\(path) has no training state") }
            let (keepN, keepI, keepScale, keepSigns) = (nimg, iteration, lrScale, adaSigns)
            try restoreState(saved, r.state)
            (nimg, iteration, lrScale, adaSigns) = (keepN, keepI, keepScale, keepSigns)
        }
        shareRootState()
    }

    // MARK: - Data and latents

    /// Dataset indices of samples [start, start + n): a fresh Philox permutation per epoch.
    func sampleIndices(start: Int, count n: Int) -> [Int] {
        (start..<(start + n)).map { s in
            let epoch = s / dataset.count
            if permutation.epoch != epoch {
                let keys = Tensor(randomUniform: [dataset.count], seed: seed, stream: Stream.data.rawValue, step: UInt32(epoch))
                let k = keys.scalars
                permutation = (epoch, (0..<dataset.count).sorted { (k[$0], $0) < (k[$1], $1) })
            }
            return permutation.order[s % dataset.count]
        }
    }

    /// This rank's shard of the reals at resolution r, faded with their 2x-downsampled-then-
    /// upsampled version, as the fakes are, and a conditional run's labels of them. Data order
    /// and flips are those of the global batch.
    func reals(resolution r: Int, alpha: Float) -> (images: Tensor, labels: [Int]?) {
        let batch = gan.config.batchSize(at: r)
        let samples = Shard(rank: collective.rank, size: collective.size).samples(of: batch)
        let all = sampleIndices(start: nimg, count: batch)
        let idx = samples.map { all[$0] }
        var flip: [Bool]?
        if mirror || dataset.mirror {
            let u = Tensor(randomUniform: [batch], rows: samples, seed: seed, stream: Stream.mirror.rawValue, step: UInt32(truncatingIfNeeded: iteration))
            flip = u.scalars.map { $0 < 0.5 }
        }
        let x = dataset.images(resolution: r, indices: idx, flip: flip)
        let labels = gan.config.isConditional ? idx.map { dataset.labels![$0] } : nil
        guard alpha < 1, r > 4 else { return (x, labels) }
        return (GradMode.withoutGrad {
            let low = x.downsampled2x().upsampled2x()
            return low + (x - low) * alpha
        }, labels)
    }
}
