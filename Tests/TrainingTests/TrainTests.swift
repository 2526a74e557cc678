// Training end to end on the tiny preset: the growth 4 -> 16 through two fade-ins, the run folder,
// a D that learns an easy target, and resume after a real SIGKILL reaching the same bytes as an
// uninterrupted run.
import Foundation
import Testing
import TestSupport
@testable import StyleGAN
@testable import Training

/// A prepared dataset of `count` 16 px images: coloured blobs on a flat background; with `classes`,
/// image i in subfolder class<i mod classes>, prepared with those labels.
func makeDataset(count: Int, name: String, classes: Int = 0) throws -> String {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-train-\(getpid())-\(name)")
    let src = base.appendingPathComponent("images").path
    for k in 0..<max(classes, 1) {
        try FileManager.default.createDirectory(atPath: src + (classes > 0 ? "/class\(k)" : ""), withIntermediateDirectories: true)
    }
    for i in 0..<count {
        var px = [UInt8](repeating: 0, count: 24 * 24 * 3)
        let (cx, cy) = (6 + (i * 5) % 12, 6 + (i * 7) % 12)
        for y in 0..<24 {
            for x in 0..<24 {
                let inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < 25
                px[(y * 24 + x) * 3 + 0] = inside ? UInt8(200 + i % 50) : 30
                px[(y * 24 + x) * 3 + 1] = inside ? UInt8(40 + (i * 13) % 100) : 60
                px[(y * 24 + x) * 3 + 2] = inside ? 50 : UInt8(90 + i % 40)
            }
        }
        try Image(width: 24, height: 24, channels: 3, pixels: px).writePNG(src + (classes > 0 ? "/class\(i % classes)" : "") + String(format: "/img%03d.png", i))
    }
    let data = base.appendingPathComponent("data").path
    _ = try DatasetPreparer(source: src, dest: data, resolution: 16, labels: classes > 0 ? .subfolders : nil).run()
    return data
}

func readStats(_ path: String) throws -> [[String: Any]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
}

@Suite("Training", .serialized)
struct TrainTests {
    @Test func growsFrom4To16ThroughTwoFadeIns() throws {
        let data = try makeDataset(count: 24, name: "grow")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-grow").path
        var o = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.44)
        o.batch = 4
        o.phaseKimg = 0.1
        o.progress = false
        try Trainer(o).train()
        let stats = try readStats(out + "/stats.jsonl").filter { $0["event"] == nil }
        let trajectory = stats.map { ($0["kimg"] as! Double, $0["resolution"] as! Int, ($0["alpha"] as! NSNumber).floatValue) }
        #expect(trajectory.contains { $0.1 == 4 })
        #expect(trajectory.contains { $0.1 == 8 && $0.2 < 1 })
        #expect(trajectory.contains { $0.1 == 16 && $0.2 < 1 })
        #expect(trajectory.last!.1 == 16 && trajectory.last!.2 == 1)
        // The schedule is a function of kimg alone.
        let s = ProgressiveSchedule(phaseKimg: 0.1, finalResolution: 16)
        for (k, r, a) in trajectory {
            let p = s.position(kimg: k)
            #expect(p.resolution == r && abs(p.alpha - a) < 1e-4, "at \(k) kimg")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(files.contains("reals.png") && files.contains("checkpoint-000440.safetensors") && files.contains("snapshot-000440.png"))
        let final = try Checkpoint.load(from: out + "/checkpoint-000440.safetensors")
        #expect(final.resolution == 16 && final.alpha == 1 && final.kimg == 0.44)
        let snap = try Image.read(out + "/snapshot-000440.png")
        #expect(snap.width == 8 * 64 && snap.height == 4 * 64)
    }

    @Test func nonFiniteStepsRollBackHalveTheLearningRateAndGiveUpAfterRepeats() throws {
        let data = try makeDataset(count: 16, name: "nan")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-nan").path
        var o = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.08)
        o.batch = 4
        o.phaseKimg = 0.1
        o.snapshotKimg = 0.02
        o.progress = false
        o.failAtIterations = [7]
        try Trainer(o).train()
        let events = try readStats(out + "/stats.jsonl").filter { $0["event"] as? String == "nonfinite" }
        #expect(events.count == 1 && events[0]["iteration"] as? Int == 7)
        let final = try Checkpoint.load(from: out + "/checkpoint-000080.safetensors")
        let state = try #require(try TrainingState(metadata: final.extraMetadata))
        #expect(state.lrScale == [0: 0.5])
        // The skipped batch still counts: 20 iterations of 4 images reach 0.08 kimg.
        #expect(state.iteration == 20)

        // Failing every step: a clear error naming the phase and the last good checkpoint.
        let out2 = out + "-always"
        o.outdir = out2
        o.failAtIterations = Set(0..<100)
        do {
            try Trainer(o).train()
            Issue.record("a run whose every step fails did not stop")
        } catch {
            print("  \(error)")
            #expect("\(error)".contains("diverged") && "\(error)".contains("stabilise 4x4") && "\(error)".contains("checkpoint-000000"))
        }
    }

    @Test func perResolutionBatchAndLearningRate() throws {
        let data = try makeDataset(count: 16, name: "perres")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-perres").path
        var config = Config.tiny
        config.batchByResolution = [8: 8]
        config.learningRateByResolution = [8: 0.002]
        var o = TrainOptions(data: data, outdir: out, config: config, totalKimg: 0.08)
        (o.phaseKimg, o.resolution, o.progress) = (0.02, 8, false)
        try Trainer(o).train()
        let stats = try readStats(out + "/stats.jsonl")
        let at8 = stats.filter { $0["resolution"] as? Int == 8 }, at4 = stats.filter { $0["resolution"] as? Int == 4 }
        #expect(!at8.isEmpty && !at4.isEmpty)
        #expect(at8.allSatisfy { ($0["lr"] as! NSNumber).floatValue == 0.002 } && at4.allSatisfy { ($0["lr"] as! NSNumber).floatValue == 0.001 })
        // 20 images at 4 px in batches of 8 (tiny's), then batches of 8 at 8 px: 0.08 kimg exactly.
        let final = try Checkpoint.load(from: out + "/checkpoint-000080.safetensors")
        #expect(final.kimg == 0.08)
    }

    /// Resuming with a shorter command line keeps the run's schedule, batch, loss, mirroring and
    /// final resolution (recorded in its checkpoints); an option given replaces the run's value.
    @Test func resumeKeepsTheRunsSettingsUnlessGiven() throws {
        let data = try makeDataset(count: 16, name: "settings")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-settings").path
        var o = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.016)
        (o.batch, o.phaseKimg, o.snapshotKimg, o.progress) = (4, 0.1, 0.008, false)
        (o.lossName, o.r1Gamma, o.r1Every, o.mirror, o.resolution) = ("logistic", 5, 2, true, 8)
        try Trainer(o).train()

        var bare = TrainOptions(data: data, outdir: out, config: .small64, totalKimg: 0.024)
        (bare.resume, bare.progress) = ("latest", false)
        let resumed = try Trainer(bare)
        #expect(resumed.gan.config.name == "tiny" && resumed.gan.config.phaseKimg == 0.1 && resumed.gan.config.batchSize == 4)
        guard case let .logistic(gamma, every) = resumed.loss else { Issue.record("loss \(resumed.loss)"); return }
        #expect(gamma == 5 && every == 2 && resumed.mirror && resumed.finalResolution == 8 && resumed.snapshotKimg == 0.008)
        #expect(resumed.schedule.position(kimg: 0.3).resolution == 8)

        var changed = bare
        (changed.phaseKimg, changed.lossName, changed.mirror, changed.batch) = (0.2, "hinge", false, 8)
        let other = try Trainer(changed)
        #expect(other.gan.config.phaseKimg == 0.2 && other.gan.config.batchSize == 8 && other.loss.name == "hinge" && !other.mirror)
        try other.train()
        // The next resume carries on with the replaced values.
        let again = try Trainer(bare)
        #expect(again.gan.config.phaseKimg == 0.2 && again.loss.name == "hinge" && !again.mirror && again.gan.config.batchSize == 8)
    }

    /// `--demod`: a new run's architecture, recorded in its config and kept on resume; a resumed
    /// or pretrained network of the other kind is refused before any step.
    @Test func demodulationIsTheNetworksChoice() throws {
        let data = try makeDataset(count: 16, name: "demod")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-demod").path
        var o = TrainOptions(data: data, outdir: base + "/demod", config: .tiny, totalKimg: 0.008)
        (o.batch, o.phaseKimg, o.progress, o.demodulate) = (4, 0.1, false, true)
        try Trainer(o).train()
        let ckpt = try Checkpoint.load(from: base + "/demod/checkpoint-000008.safetensors")
        #expect(ckpt.config.demodulate == true && ckpt.generator.synthesis.layers[0].modulation != nil)
        var resume = TrainOptions(data: data, outdir: base + "/demod", config: .tiny, totalKimg: 0.016)
        (resume.resume, resume.progress) = ("latest", false)
        #expect(try Trainer(resume).gan.config.demodulate == true)
        resume.demodulate = false
        #expect(throws: StyleGANError.self) { try Trainer(resume) }

        var adain = TrainOptions(data: data, outdir: base + "/adain", config: .tiny, totalKimg: 0.008)
        (adain.batch, adain.phaseKimg, adain.progress) = (4, 0.1, false)
        try Trainer(adain).train()
        #expect(try Checkpoint.load(from: base + "/adain/checkpoint-000008.safetensors").config.demodulate == nil)
        (adain.resume, adain.demodulate) = ("latest", true)
        let error = #expect(throws: StyleGANError.self) { try Trainer(adain) }
        #expect(error?.description.contains("--demod: the checkpoint's generator uses AdaIN") == true, "\(String(describing: error))")
    }

    /// `--resume-from`: a new run from a pretrained network at its resolution, with fresh Adam
    /// state; a generator-only file brings G (and its EMA) and D starts untrained; the start
    /// resolution is kept on resume; data of another resolution is refused before any step.
    @Test func resumeFromStartsAtThePretrainedResolution() throws {
        let data = try makeDataset(count: 16, name: "pretrained")
        let first = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-pre").path
        var o = TrainOptions(data: data, outdir: first, config: .tiny, totalKimg: 0.05)
        (o.batch, o.phaseKimg, o.resolution, o.progress) = (4, 0.01, 8, false)
        try Trainer(o).train()
        let sourcePath = try RunFolder(first).checkpoints().last!.path
        let source = try Checkpoint.load(from: sourcePath)
        #expect(source.resolution == 8 && source.alpha == 1)
        let gOnly = first + "/g.safetensors"
        try GeneratorWeights(checkpoint: source).save(to: gOnly)

        for (file, keepsD) in [(sourcePath, true), (gOnly, false)] {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-ft-\(keepsD)").path
            var ft = TrainOptions(data: data, outdir: out, config: .small64, totalKimg: 0.016)
            (ft.resumeFrom, ft.phaseKimg, ft.progress, ft.resolution) = (file, 0.01, false, 8)
            let t = try Trainer(ft)
            #expect(t.gan.config.name == "tiny" && t.schedule.position(kimg: 0).resolution == 8 && t.schedule.position(kimg: 0).alpha == 1)
            #expect(t.adamG.step == 0 && t.nimg == 0)
            let ema = GeneratorWeights.namedTensors(t.gan.ema), src = Dictionary(uniqueKeysWithValues: GeneratorWeights.namedTensors(source.ema))
            #expect(ema.allSatisfy { $0.1.scalars == src[$0.0]!.scalars })
            let dSame = zip(t.gan.discriminator.parameters, source.discriminator.parameters).allSatisfy { $0.1.scalars == $1.1.scalars }
            #expect(dSame == keepsD)
            try t.train()
            var again = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.024)
            (again.resume, again.progress) = ("latest", false)
            let resumed = try Trainer(again)
            #expect(resumed.startResolution == 8 && resumed.schedule.position(kimg: 0.016).resolution == 8 && resumed.resumedFrom == file)
        }
        // Refused before any step: a final resolution below the pretrained network's, and a run folder in use.
        var bad = TrainOptions(data: data, outdir: first + "-bad", config: .tiny, totalKimg: 0.01)
        (bad.resumeFrom, bad.resolution, bad.progress) = (gOnly, 4, false)
        expectError(.training) { try Trainer(bad) }
        var busy = TrainOptions(data: data, outdir: first, config: .tiny, totalKimg: 0.01)
        busy.resumeFrom = gOnly
        expectError(.training) { try Trainer(busy) }
    }

    /// A D warm-up: for its first K kimg, G, its EMA and w_avg stay bit for bit the pretrained
    /// ones while D moves; after it G trains again; the setting is recorded.
    @Test func dWarmupTrainsDAlone() throws {
        let data = try makeDataset(count: 16, name: "warmup")
        let first = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-warmup0").path
        var o = TrainOptions(data: data, outdir: first, config: .tiny, totalKimg: 0.02)
        (o.batch, o.phaseKimg, o.resolution, o.progress) = (4, 0.005, 8, false)
        try Trainer(o).train()
        let sourcePath = try RunFolder(first).checkpoints().last!.path
        let source = try Checkpoint.load(from: sourcePath)
        let out = first + "-ft"
        var ft = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.016)
        (ft.resumeFrom, ft.resolution, ft.progress, ft.dWarmupKimg, ft.snapshotKimg) = (sourcePath, 8, false, 0.008, 0.008)
        try Trainer(ft).train()
        let checkpoints = try RunFolder(out).checkpoints()
        let warm = try Checkpoint.load(from: checkpoints.first { $0.nimg == 8 }!.path)
        let end = try Checkpoint.load(from: checkpoints.last!.path)
        func same(_ a: NamedParameters, _ b: NamedParameters) -> Bool { zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1.scalars == $1.1.scalars } }
        #expect(same(warm.generator.parameters + warm.generator.buffers, source.generator.parameters + source.generator.buffers))
        #expect(same(warm.ema.parameters, source.ema.parameters))
        #expect(!same(warm.discriminator.parameters, source.discriminator.parameters))
        #expect(!same(end.generator.parameters, source.generator.parameters))
        #expect(try TrainingState(metadata: end.extraMetadata)?.dWarmupKimg == 0.008)
    }

    /// The training state round-trips through its metadata entry, and checkpoints written before
    /// it (one "train.*" string per field) still read.
    @Test func trainingStateReadsBothFormats() throws {
        var s = TrainingState()
        (s.nimg, s.iteration, s.adamGStep, s.lastPhase, s.lrScale, s.seed, s.loss, s.r1Gamma) = (440, 110, 90, 3, [2: 0.5, 0: 0.25], 7, "logistic", 10)
        (s.mirror, s.resolution, s.resumedFrom, s.metrics) = (true, 16, "a \"quoted\", path", ["fid5k"])
        #expect(try TrainingState(metadata: s.metadata) == s)
        let legacy = ["train.nimg": "440", "train.iteration": "110", "train.adam_g_step": "90", "train.last_phase": "3",
                      "train.lr_scale": "0:0.25,2:0.5", "train.seed": "7", "train.loss": "logistic", "train.r1_gamma": "10.0",
                      "train.mirror": "true", "train.resolution": "16", "train.resumed_from": "a \"quoted\", path", "train.metrics": "fid5k"]
        #expect(try TrainingState(metadata: legacy) == s)
        #expect(try TrainingState(metadata: ["description": "untrained"]) == nil)
        expectError(.training) { try TrainingState(metadata: ["train.state": "{not json"]) }
    }

    /// FreezeD and a frozen mapping: after steps the frozen weights are bit for bit the
    /// pretrained ones, everything else has moved, and the setting is kept on resume.
    @Test func freezeDLeavesFrozenWeightsUnchanged() throws {
        let data = try makeDataset(count: 16, name: "freeze")
        let first = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-freeze0").path
        var o = TrainOptions(data: data, outdir: first, config: .tiny, totalKimg: 0.02)
        (o.batch, o.phaseKimg, o.resolution, o.progress) = (4, 0.005, 8, false)
        try Trainer(o).train()
        let sourcePath = try RunFolder(first).checkpoints().last!.path
        let source = try Checkpoint.load(from: sourcePath)
        let out = first + "-ft"
        var ft = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.016)
        (ft.resumeFrom, ft.resolution, ft.progress, ft.freezeD, ft.freezeMapping) = (sourcePath, 8, false, 1, true)
        try Trainer(ft).train()
        let after = try Checkpoint.load(from: try RunFolder(out).checkpoints().last!.path)
        let before = Dictionary(uniqueKeysWithValues: source.generator.parameters + source.discriminator.parameters)
        // The layers an 8 px network uses (the 16 and 32 px ones get no gradient at all).
        let used = ["G.mapping.", "G.synthesis.const", "G.synthesis.layer0.", "G.synthesis.layer1.", "G.synthesis.layer2.",
                    "G.synthesis.layer3.", "G.synthesis.torgb8.", "D.fromrgb8.", "D.block8.", "D.block4."]
        for (name, t) in after.generator.parameters + after.discriminator.parameters where used.contains(where: { name.hasPrefix($0) }) {
            let frozen = name.hasPrefix("D.fromrgb8.") || name.hasPrefix("D.block8.") || name.hasPrefix("G.mapping.")
            let same = t.scalars == before[name]!.scalars
            #expect(same == frozen, "\(name): frozen \(frozen), unchanged \(same)")
        }
        let state = try #require(try TrainingState(metadata: after.extraMetadata))
        #expect(state.freezeD == 1 && state.freezeMapping == true)
        var bad = TrainOptions(data: data, outdir: first + "-bad", config: .tiny, totalKimg: 0.01)
        (bad.resumeFrom, bad.resolution, bad.freezeD) = (sourcePath, 8, 5)
        expectError(.training) { try Trainer(bad) }
    }

    /// `--metrics fid8`: an Inception FID line in stats.jsonl at every snapshot (needs the converted
    /// network, as the Inception tests do); unknown metrics and a missing network are refused first.
    @Test func snapshotMetricsGoToStats() throws {
        let data = try makeDataset(count: 16, name: "metrics")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-metrics").path
        var o = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.016)
        (o.batch, o.phaseKimg, o.snapshotKimg, o.progress) = (4, 0.1, 0.008, false)
        for (bad, path) in [(["fid"], nil), (["msswd5k"], nil), (["fid8"], "/nonexistent/inception.safetensors")] as [([String], String?)] {
            var b = o
            (b.metrics, b.inceptionPath) = (bad, path)
            #expect(throws: (any Error).self, "\(bad)") { try Trainer(b) }
        }
        guard FileManager.default.fileExists(atPath: InceptionV3.defaultPath) else { return }
        o.metrics = ["fid8"]
        try Trainer(o).train()
        let lines = try readStats(out + "/stats.jsonl").filter { $0["metric"] as? String == "fid8" }
        #expect(lines.count == 2 && lines.allSatisfy { (($0["value"] as? NSNumber)?.doubleValue ?? -1) > 0 && $0["num_real"] as? Int == 8 })
    }

    @Test func unwritableOutputFolderIsAClearError() throws {
        let data = try makeDataset(count: 8, name: "unwritable")
        let o = TrainOptions(data: data, outdir: "/proc/stylegan-run", config: .tiny, totalKimg: 0.01)
        expectError(.training) { try Trainer(o).train() }
        let missing = TrainOptions(data: "/nonexistent/data", outdir: FileManager.default.temporaryDirectory.path + "/sg-x", config: .tiny, totalKimg: 0.01)
        do { _ = try Trainer(missing); Issue.record("a missing dataset was accepted") } catch { print("  \(error)") }
    }

    @Test func discriminatorLearnsAnEasyTarget() throws {
        // Reals: bright images; fakes: a fixed dark batch. The logistic D loss must fall.
        let d = Discriminator(config: .tiny, seed: 1)
        let adam = Adam(d.parameters)
        let reals = Tensor(repeating: 0.8, shape: [4, 3, 8, 8]), fakes = Tensor(repeating: -0.8, shape: [4, 3, 8, 8])
        let loss = Loss.logistic(r1: 10, r1Every: 1)
        var values: [Float] = []
        for step in 0..<30 {
            let (l, _) = loss.discriminatorLoss(d: { d($0) }, reals: reals.copy(), fakes: fakes, step: step)
            values.append(l.item)
            l.backward()
            adam.update()
        }
        print("D loss: \(values.first!) -> \(values.last!)")
        #expect(values.last! < values.first! * 0.5)
    }
}

/// The built `stylegan` executable, next to the test bundle.
let styleganBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stylegan").path

/// Waits for a child, killing it if it runs past `seconds` (a hung child must not hang the suite).
func waitOrKill(_ p: Process, seconds: Double) {
    let exited = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in exited.signal() }
    // The handler is not called for a child that exited before it was set.
    if p.isRunning && exited.wait(timeout: .now() + seconds) == .timedOut {
        kill(p.processIdentifier, SIGKILL)
        Issue.record("stylegan train did not finish within \(seconds) s")
    }
    p.waitUntilExit()
}

/// Blocks until a file whose name satisfies `matches` appears in `folder` (created by a rename,
/// as checkpoints are, or written in place, as stats.jsonl is), or `seconds` pass; inotify events,
/// no polling. Returns whether it appeared.
func waitForFile(in folder: String, seconds: Double, _ matches: (String) -> Bool) -> Bool {
    let fd = inotify_init1(Int32(IN_CLOEXEC))
    guard fd >= 0 else { return false }
    defer { close(fd) }
    guard inotify_add_watch(fd, folder, UInt32(IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)) >= 0 else { return false }
    // Names present before the watch began count too.
    if ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).contains(where: matches) { return true }
    let deadline = Date().addingTimeInterval(seconds)
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(min(left * 1000, Double(Int32.max)))) > 0 else { continue }
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { continue }
        var offset = 0
        while offset < n {
            let (length, name) = buffer.withUnsafeBytes { raw -> (Int, String) in
                let event = raw.baseAddress!.advanced(by: offset).loadUnaligned(as: inotify_event.self)
                let nameStart = raw.baseAddress!.advanced(by: offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)
                return (MemoryLayout<inotify_event>.size + Int(event.len), event.len > 0 ? String(cString: nameStart) : "")
            }
            if matches(name) { return true }
            offset += length
        }
    }
}

@Suite("Resume", .serialized)
struct ResumeTests {
    func train(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: styleganBinary)
        p.arguments = ["train", "--config", "tiny", "--batch", "4", "--phase-kimg", "0.1", "--snap-kimg", "0.04", "--quiet"] + args
        p.environment = ProcessInfo.processInfo.environment.merging(["OMP_NUM_THREADS": "2"]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Plain, with ADA (p and its controller's running sums are part of the state),
    /// class-conditional with ACGAN (labels of reals and fakes drawn by the iteration), and with
    /// weight demodulation (recorded in the config, so the resume without --demod keeps it).
    @Test(arguments: [[String](), ["--aug", "ada", "--p", "0.3", "--ada-kimg", "0.5"], ["--cond", "--cond-loss", "acgan"], ["--demod"]])
    func killedAndResumedRunMatchesAnUninterruptedOneBitForBit(_ extra: [String]) throws {
        let tag = extra.isEmpty ? "plain" : extra.contains("--cond") ? "cond" : extra.contains("--demod") ? "demod" : "ada"
        let data = try makeDataset(count: 16, name: "resume-\(tag)", classes: tag == "cond" ? 3 : 0)
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-resume-\(getpid())-\(tag)").path
        let (a, b) = (base + "/straight", base + "/killed")
        let straight = try train(["--data", data, "--outdir", a, "--kimg", "0.24"] + extra)
        waitOrKill(straight, seconds: 300)
        #expect(straight.terminationStatus == 0)

        // Kill for real (SIGKILL) once a checkpoint past the start exists, in the middle of the 8 px fade-in.
        try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
        let victim = try train(["--data", data, "--outdir", b, "--kimg", "0.24"] + extra)
        let reached = waitForFile(in: b, seconds: 120) { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".safetensors") && $0 != "checkpoint-000000.safetensors" }
        #expect(reached, "no checkpoint past the start within 120 s")
        kill(victim.processIdentifier, SIGKILL)
        waitOrKill(victim, seconds: 30)
        #expect(victim.terminationReason == .uncaughtSignal)
        let resumed = try train(["--data", data, "--outdir", b, "--kimg", "0.24", "--resume", "latest"])  // the run's settings
        waitOrKill(resumed, seconds: 300)
        #expect(resumed.terminationStatus == 0)

        let x = try Data(contentsOf: URL(fileURLWithPath: a + "/checkpoint-000240.safetensors"))
        let y = try Data(contentsOf: URL(fileURLWithPath: b + "/checkpoint-000240.safetensors"))
        #expect(x == y, "the resumed run's final checkpoint differs from the uninterrupted run's")
        if tag == "ada" {
            let state = try TrainingState(metadata: try Checkpoint.load(from: a + "/checkpoint-000240.safetensors").extraMetadata)!
            #expect(state.augment == "ada" && state.augmentP != nil && state.augmentP != 0.3, "ADA's p did not move: \(String(describing: state.augmentP))")
        }
    }

    @Test func sigtermWritesACheckpointAndExitsCleanly() throws {
        let data = try makeDataset(count: 16, name: "term")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-term-\(getpid())").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let p = try train(["--data", data, "--outdir", out, "--kimg", "50"])
        // Its first stats line: training steps have run.
        #expect(waitForFile(in: out, seconds: 60) { $0 == "stats.jsonl" }, "no stats.jsonl within 60 s")
        let sent = Date()
        kill(p.processIdentifier, SIGTERM)
        waitOrKill(p, seconds: 60)
        #expect(p.terminationStatus == 0)
        #expect(Date().timeIntervalSince(sent) < 30, "the run did not stop promptly on SIGTERM")
        let names = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("checkpoint-") }
        #expect(names.count >= 2)  // the start and the one written on SIGTERM
        let latest = names.sorted().last!
        let kimg = try Checkpoint.load(from: out + "/" + latest).kimg
        #expect(kimg > 0 && kimg < 50, "stopped at \(kimg) kimg")
    }
}
