// `stylegan train --data DATA --outdir RUN [--config small64] [--kimg N] [--resolution R] [--batch B]
// [--seed S] [--loss logistic] [--mirror] [--phase-kimg K] [--resume latest|FILE] [--resume-from PRETRAINED]
// [--aug none|fixed|ada] [--p P] [--cond [--cond-loss projection|acgan]] [--demod]`
// Under `mpirun -np N` (a build with STYLEGAN_MPI=1) the N processes train one model together.
import ArgumentParser
import Foundation
import StyleGAN
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train progressively (4x4 up to the final resolution) on a prepared dataset.")

    @Option(help: "Prepared dataset folder (from `stylegan prepare`).") var data: String
    @Option(help: "Run folder: checkpoints, snapshots, stats.jsonl.") var outdir: String
    @Option(help: "Config preset: \(Config.presets.map(\.name).joined(separator: ", ")).") var config = "small64"
    @Option(help: "Stop when this many thousand images have been shown in total (across resumes).") var kimg: Double
    @Option(help: "Final resolution (default: the config's, capped by the data's).") var resolution: Int?
    @Option(help: "Batch size (default: the config's).") var batch: Int?
    @Option(help: "Seed of every random stream (weights, latents, noise, data order).") var seed: UInt64 = 0
    @Option(help: "Loss: \(Loss.names.joined(separator: ", ")) (default: logistic).") var loss: String?
    @Option(help: "R1 weight gamma for the logistic loss (default: 10).") var r1Gamma: Float?
    @Option(help: "Apply R1 every N discriminator steps (lazy regularisation; default: 1).") var r1Every: Int?
    @Flag(inversion: .prefixedNo, help: "Random x-flips of the reals (default: off).") var mirror: Bool?
    @Option(help: "Thousands of images per stabilise and per fade-in phase (default: the config's).") var phaseKimg: Double?
    @Option(help: "Checkpoint and snapshot every N thousand images (default: half a phase).") var snapKimg: Double?
    @Option(help: "Resume from `latest` (the newest checkpoint in --outdir) or a checkpoint file; options not given keep the run's values.") var resume: String?
    @Option(help: "Start a new run from a pretrained network (a checkpoint, or generator-only weights, whose D then starts untrained) at its resolution, with fresh optimiser state.") var resumeFrom: String?
    @Option(help: "Fine-tuning: freeze D's first K blocks from its input side (FreezeD; default 0).") var freezeD: Int?
    @Flag(inversion: .prefixedNo, help: "Fine-tuning: freeze G's mapping network (default: off).") var freezeMapping: Bool?
    @Option(help: "Fine-tuning: train D alone for the first K kimg, G and its EMA unchanged (default 0).") var dWarmupKimg: Double?
    @Option(help: "Augmentation of every image D sees (ADA): none, fixed (at --p) or ada (p adapts to keep E[sign D(reals)] at --ada-target) (default: none).") var aug: String?
    @Option(help: "Augmentation probability: fixed with --aug fixed, the start with --aug ada (default 0; on resume, the run's).") var p: Float?
    @Option(help: "ADA's target for r_t = E[sign(D(reals))] (default 0.6).") var adaTarget: Float?
    @Option(help: "ADA's speed: p can go from 0 to 1 in this many thousand images (default 500).") var adaKimg: Double?
    @Flag(inversion: .prefixedNo, help: "Class-conditional training on a dataset prepared with --labels (default: off).") var cond: Bool?
    @Flag(inversion: .prefixedNo, help: "StyleGAN2's weight demodulation in place of AdaIN's instance normalisation (removes the droplet artefacts; a new run's choice, default: off).") var demod: Bool?
    @Option(help: "How a conditional D uses the class: projection (projection discriminator) or acgan (auxiliary classifier) (default: projection).") var condLoss: String?
    @Option(help: "Metrics at every snapshot into stats.jsonl, comma separated: fid5k, kid10k, ... (Inception; off by default).") var metrics: String?
    @Option(help: "The converted Inception network for --metrics (default: $STYLEGAN_INCEPTION or ~/.cache/stylegan/inception-2015-12-05.safetensors).") var inception: String?
    @Flag(help: "No progress line on stderr.") var quiet = false
    // Hidden, for tests: per-rank state checksums after each step; steps treated as non-finite.
    @Flag(help: .hidden) var debugRankChecksums = false
    @Option(help: .hidden) var debugFailAt: [Int] = []

    func validate() throws {
        guard kimg > 0 else { throw ValidationError("--kimg must be positive") }
        if let b = batch, b < 1 { throw ValidationError("--batch must be at least 1") }
        if let p = phaseKimg, p <= 0 { throw ValidationError("--phase-kimg must be positive") }
        if let s = snapKimg, s <= 0 { throw ValidationError("--snap-kimg must be positive") }
        if let e = r1Every, e < 1 { throw ValidationError("--r1-every must be at least 1") }
        if let k = freezeD, k < 0 { throw ValidationError("--freeze-d must be at least 0") }
        if let k = dWarmupKimg, !(k >= 0) { throw ValidationError("--d-warmup-kimg must be at least 0") }
        if let a = aug, !["none", "fixed", "ada"].contains(a) { throw ValidationError("--aug '\(a)': expected none, fixed or ada") }
        if let p, !(p >= 0 && p <= 1) { throw ValidationError("--p must be between 0 and 1") }
        if let t = adaTarget, !(t > 0 && t < 1) { throw ValidationError("--ada-target must be between 0 and 1") }
        if let k = adaKimg, !(k > 0) { throw ValidationError("--ada-kimg must be positive") }
        if let l = loss, !Loss.names.contains(l) {
            throw ValidationError("unknown loss '\(l)'; choose one of: \(Loss.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        var options = TrainOptions(data: data, outdir: outdir, config: try Config.preset(named: config), totalKimg: kimg)
        (options.resolution, options.batch, options.seed, options.mirror) = (resolution, batch, seed, mirror)
        (options.lossName, options.r1Gamma, options.r1Every) = (loss, r1Gamma, r1Every)
        (options.phaseKimg, options.snapshotKimg, options.resume, options.resumeFrom) = (phaseKimg, snapKimg, resume, resumeFrom)
        options.metrics = metrics.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        options.inceptionPath = inception
        (options.freezeD, options.freezeMapping, options.dWarmupKimg) = (freezeD, freezeMapping, dWarmupKimg)
        (options.augment, options.augmentP, options.adaTarget, options.adaKimg) = (aug, p, adaTarget, adaKimg)
        (options.conditional, options.conditionalD, options.demodulate) = (cond, condLoss, demod)
        (options.progress, options.rankChecksums, options.failAtIterations) = (!quiet, debugRankChecksums, Set(debugFailAt))
        let world = try Collective.world()
        options.collective = world
        try world.run { try Trainer(options).train() }
    }
}
