// The outer loop of a run: phases, checkpoints and snapshots at intervals, stats.jsonl, the
// progress line, clean stops on SIGINT / SIGTERM, and recovery from non-finite steps. With
// several ranks every decision (stop, skip, roll back, give up) is agreed by all of them, so that
// none waits alone in a reduction; rank 0 alone writes files and the progress line.
import Foundation
import StyleGAN

extension Trainer {
    public func train() throws {
        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        // A parent may have started us with these blocked (the mask is inherited across exec).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        let total = Int((options.totalKimg * 1000).rounded())
        let batch = gan.config.batchSize
        let interval = max(batch, Int(((snapshotKimg ?? schedule.phaseKimg / 2) * 1000).rounded()))
        let root = collective.isRoot
        if nimg == 0 {
            if root { try writeRealsGrid() }
            _ = try saveCheckpoint()
        }
        var lastGood = run.checkpoints().last?.path
        var failures = 0
        var nextSnapshot = (nimg / interval + 1) * interval
        var tick = (start: Date(), nimg: nimg)
        var sums = (d: 0.0, g: 0.0, p: 0.0, rt: 0.0, n: 0)
        let tickImages = max(batch, min(interval, 1000))
        let runStart = (Date(), nimg)
        let line = ProgressLine(total: total, unit: "img", enabled: options.progress && root)

        var stopped = false
        while nimg < total {
            // A signal reaches one rank or all; they stop together either way.
            if collective.any(stopRequested != 0) { stopped = true; break }
            let pos = schedule.position(kimg: Double(nimg) / 1000)
            if pos.phase != lastPhase {
                // ProGAN resets Adam's moments when a new resolution starts fading in.
                if pos.fading && lastPhase >= 0 && pos.phase > lastPhase { adamG.reset(); adamD.reset() }
                lastPhase = pos.phase
            }
            let lr = gan.config.learningRate(at: pos.resolution) * (lrScale[pos.phase] ?? 1)
            let (realImages, realLabels) = reals(resolution: pos.resolution, alpha: pos.alpha)
            let batchImages = gan.config.batchSize(at: pos.resolution)  // the global batch
            guard !options.failAtIterations.contains(iteration), let s = step.run(reals: realImages, labels: realLabels, resolution: pos.resolution, alpha: pos.alpha, lr: lr,
                                   iteration: iteration, nimg: nimg, trainG: Double(nimg) >= dWarmupKimg * 1000) else {
                failures += 1
                if root {
                    run.appendStats([("event", "nonfinite"), ("kimg", Double(nimg) / 1000), ("phase", pos.name),
                                     ("iteration", iteration), ("retry", failures)])
                }
                // Rank 0 knows which checkpoint is on disk; the others follow its decision and
                // receive the state it reloads (they may not see the run folder at all).
                let canRollBack = collective.broadcast([failures <= options.maxRetries && lastGood != nil ? 1 : 0])[0] == 1
                guard canRollBack else {
                    throw StyleGANError.training("training diverged: non-finite loss or gradient in \(pos.name) at \(String(format: "%.3f", Double(nimg) / 1000)) kimg, \(failures) time(s); the last good checkpoint is \(lastGood ?? "none")")
                }
                let back = lastGood ?? "rank 0's last checkpoint"
                try rollBack(to: back)
                lrScale[pos.phase] = (lrScale[pos.phase] ?? 1) * 0.5
                if root {
                    FileHandle.standardError.write(Data("\nnon-finite step in \(pos.name); rolled back to \(back), skipping the batch, learning rate x\(lrScale[pos.phase]!)\n".utf8))
                }
                nimg += batchImages  // skip the offending batch: its data, latents and noise are not drawn again
                iteration += 1
                appendRankChecksum()
                continue
            }
            failures = 0
            if case .ada = augment, let p = step.augment?.p {
                // NVlabs' controller: after every 4th step, p follows sign(r_t - target).
                adaSigns = (adaSigns.sum + Double(s.realSign), adaSigns.count + 1)
                if iteration % AugmentMode.interval == 0 {
                    step.augment?.p = augment.adjusted(p, rt: adaSigns.sum / Double(adaSigns.count), images: batchImages * AugmentMode.interval)
                    adaSigns = (0, 0)
                }
            }
            nimg += batchImages
            iteration += 1
            appendRankChecksum()
            sums.d += Double(s.lossD); sums.g += Double(s.lossG); sums.p += Double(s.penalty); sums.rt += Double(s.realSign); sums.n += 1

            if root && (nimg - tick.nimg >= tickImages || nimg >= total) {
                let secs = Date().timeIntervalSince(tick.start)
                let ips = Double(nimg - tick.nimg) / max(secs, 1e-9)
                let n = Double(max(sums.n, 1))
                let now = schedule.position(kimg: Double(nimg) / 1000)
                var fields: [(String, any Encodable)] = [
                    ("kimg", Double(nimg) / 1000), ("resolution", now.resolution), ("alpha", now.alpha), ("phase", now.name),
                    ("loss_d", sums.d / n), ("loss_g", sums.g / n), ("penalty", sums.p / n), ("images_per_s", ips),
                    ("sec_per_kimg", 1000 / max(ips, 1e-9)), ("lr", adamG.learningRate), ("peak_rss_mb", peakRSSMegabytes()),
                ]
                var text = String(format: "%-22@ kimg %8.3f / %.1f  alpha %.2f  D %7.4f  G %7.4f", now.name as NSString,
                                  Double(nimg) / 1000, Double(total) / 1000, now.alpha, sums.d / n, sums.g / n)
                if let pipe = step.augment {
                    fields += [("augment_p", pipe.p), ("rt", sums.rt / n)]
                    text += String(format: "  p %.3f  rt %.2f", pipe.p, sums.rt / n)
                }
                run.appendStats(fields)
                line.update(done: nimg, text: text, rate: ips, force: true)
                tick = (Date(), nimg)
                sums = (0, 0, 0, 0, 0)
            }
            if nimg >= nextSnapshot && nimg < total {
                lastGood = try saveCheckpoint()
                if root { try writeSnapshot(); try evaluateMetrics() }
                nextSnapshot += interval
            }
        }
        lastGood = try saveCheckpoint()
        guard root else { return }
        try writeSnapshot()
        // A stop asked for is prompt: the metrics (minutes of Inception) wait for the next run.
        if !stopped { try evaluateMetrics() }
        line.finish()
        let elapsed = Date().timeIntervalSince(runStart.0)
        let msg = stopped ? "stopped by signal at" : "finished at"
        print("\(msg) \(String(format: "%.3f", Double(nimg) / 1000)) kimg (\(schedule.position(kimg: Double(nimg) / 1000).name)); "
              + "\(String(format: "%.0f", Double(nimg - runStart.1) / max(elapsed, 1e-9) )) images/s; checkpoint \(lastGood!)")
    }

    /// The EMA generator on fixed seeds at the current resolution and alpha.
    func writeSnapshot() throws {
        let pos = schedule.position(kimg: Double(nimg) / 1000)
        let g = gan.ema, seeds = Array(0..<32)  // the grid's fixed seeds
        let z = Generator.latents(seeds: seeds, zDim: gan.config.zDim)
        let images = GradMode.withoutGrad { g(z, labels: g.labels(seeds: seeds), resolution: pos.resolution, alpha: pos.alpha, noise: .const) }
        let tiles = (0..<images.shape[0]).map { Image(images, index: $0).upscaled(by: max(1, 64 / pos.resolution)) }
        try Image.grid(tiles, columns: 8).writePNG(run.snapshotPath(nimg: nimg))
    }

    /// The run's metrics of the EMA generator now, each a line of stats.jsonl: images of seeds
    /// 0..N-1 (upsampled to the data's resolution before the last growth) against the first N reals.
    func evaluateMetrics() throws {
        guard let inception, !metrics.isEmpty else { return }
        let pos = schedule.position(kimg: Double(nimg) / 1000)
        let g = gan.ema, r = dataset.resolution
        for m in metrics {
            let start = Date()
            let reals = try inception.cachedFeatures(dataset.path, limit: m.count, inceptionPath: options.inceptionPath ?? InceptionV3.defaultPath,
                                                     progress: false)
            let fakes = try FrozenWeights.during(keepingTransformsOf: g.parameters, maxTiles: FrozenWeights.generationMaxTiles) { cache in
                try inception.extract(count: m.count, progress: false, label: m.name) { range in
                    let z = Generator.latents(seeds: Array(range), zDim: gan.config.zDim)
                    var images = GradMode.withoutGrad {
                        g(z, labels: g.labels(seeds: Array(range)), resolution: pos.resolution, alpha: pos.alpha, noise: .fromSeeds(Array(range)),
                          cache: cache)
                    }
                    var size = pos.resolution
                    while size < r { images = images.upsampled2x(); size *= 2 }
                    return InceptionV3.uint8(generated: images)
                }
            }
            let value = m.kind == .fid
                ? try InceptionDistance.frechet(FeatureStatistics(features: fakes), FeatureStatistics(features: reals))
                : InceptionDistance.kernel(real: reals, generated: fakes)
            run.appendStats([("kimg", Double(nimg) / 1000), ("metric", m.name), ("value", value), ("num_gen", fakes.shape[0]),
                             ("num_real", reals.shape[0]), ("resolution", pos.resolution), ("seconds", Date().timeIntervalSince(start))])
        }
    }

    /// Real images at the final resolution, beside the snapshots.
    func writeRealsGrid() throws {
        let r = schedule.finalResolution
        let n = min(32, dataset.count)
        let tiles = (0..<n).map { dataset.uint8Image(resolution: r, index: $0).upscaled(by: max(1, 64 / r)) }
        try Image.grid(tiles, columns: 8).writePNG(run.path + "/reals.png")
    }
}

/// "fid5k", "kid10k", "fid2000": an Inception metric and its image count.
struct SnapshotMetric {
    enum Kind: String { case fid, kid }
    let kind: Kind, count: Int, name: String

    init(_ name: String) throws {
        let lower = name.lowercased()
        guard let kind = Kind(rawValue: String(lower.prefix(3))) else {
            throw StyleGANError.training("--metrics \(name): use fid or kid with an image count, e.g. fid5k or kid2000")
        }
        var digits = lower.dropFirst(3)
        var scale = 1
        if digits.hasSuffix("k") { digits = digits.dropLast(); scale = 1000 }
        guard let n = Int(digits), n * scale >= 2 else { throw StyleGANError.training("--metrics \(name): the image count must be at least 2 (e.g. fid5k)") }
        (self.kind, count, self.name) = (kind, n * scale, lower)
    }
}
