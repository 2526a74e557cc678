// `stylegan metrics fid|kid|msswd ...`: the field's quality numbers.
//   fid / kid: Inception features (NVIDIA's FID network, converted once by `stylegan import`) of a
//     network's images (--network, seeds 0..num-1) or a folder (--images) against --data (a
//     prepared dataset or a folder; its features cached beside it); NVIDIA's formulas.
//   msswd: ProGAN's multi-scale sliced Wasserstein distance (x 1e3, per pyramid level and the
//     average) between a network's images and a prepared dataset, or two datasets (--data2).
import ArgumentParser
import Foundation
import Inference
import StyleGAN

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute a quality metric: fid, kid (Inception-v3 features, as NVIDIA's metrics) or msswd (ProGAN's sliced Wasserstein).")

    enum Metric: String, ExpressibleByArgument, CaseIterable { case fid, kid, msswd }

    @Argument(help: "Metric: fid, kid or msswd (default: msswd, or --metric).") var which: Metric?
    @Option(help: "Checkpoint or weights file (.safetensors); its EMA generator makes the fake images.") var network: String?
    @Option(help: "fid / kid: a folder of PNG / JPEG files to compare instead of a network's images.") var images: String?
    @Option(help: "The real images: a prepared dataset (stylegan prepare); for fid / kid also a folder of images.") var data: String
    @Option(help: "msswd: a second prepared dataset to compare with --data instead of a network.") var data2: String?
    @Option(help: "Metric (the same as the argument).") var metric: Metric?
    @Option(help: "Generated images (seeds 0..num-1; default 50000 for fid / kid, as NVIDIA's fid50k; 10000 for msswd); msswd: also the reals.") var num: Int?
    @Option(help: "fid / kid: at most this many real images (default: all of --data, as NVIDIA's _full metrics).") var numReal: Int?
    @Option(help: "fid / kid: the converted Inception network (default: $STYLEGAN_INCEPTION or ~/.cache/stylegan/inception-2015-12-05.safetensors).")
    var inception: String?
    @Flag(help: "fid / kid: print one JSON line (and no progress line).") var json = false
    @Option(help: "Images per batch.") var batch: Int = 16
    @Option(help: "Seed of the metric's own random choices (msswd: neighbourhoods, directions; kid: subsets).") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("msswd: compare at this resolution (default: the data's): the reals come from the prepared cache at it, and a network's images are upsampled to it only if smaller.",
                               discussion: "A snapshot from before the final resolution upsampled to it shows nearest-neighbour block edges at the finer levels; comparing at the snapshot's own resolution avoids that."))
    var resolution: Int?

    var chosen: Metric { which ?? metric ?? .msswd }

    func validate() throws {
        if let which, let metric, which != metric { throw ValidationError("the metric is given twice: \(which.rawValue) and --metric \(metric.rawValue)") }
        if let num, num < 1 { throw ValidationError("--num must be at least 1") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if chosen == .msswd {
            if (network == nil) == (data2 == nil) { throw ValidationError("give exactly one of --network and --data2") }
            if images != nil { throw ValidationError("--images is for fid / kid; msswd compares prepared datasets (--data2)") }
            if let resolution, resolution < 16 || resolution & (resolution - 1) != 0 {
                throw ValidationError("--resolution must be a power of two of at least 16 (MS-SWD's coarsest level), got \(resolution)")
            }
        } else {
            if (network == nil) == (images == nil) { throw ValidationError("give exactly one of --network and --images") }
            if data2 != nil || resolution != nil { throw ValidationError("--data2 and --resolution are for msswd") }
            if let n = numReal, n < 2 { throw ValidationError("--num-real must be at least 2") }
        }
    }

    func run() throws {
        if chosen != .msswd { return try runInception() }
        let num = self.num ?? 10000
        let real = try DatasetCache.open(data)
        let other = try data2.map { try DatasetCache.open($0) }
        let dataResolution = min(real.resolution, other?.resolution ?? real.resolution)
        if let asked = self.resolution, asked > dataResolution {
            throw ValidationError("--resolution \(asked) is above the data's \(dataResolution)x\(dataResolution)")
        }
        let resolution = self.resolution ?? dataResolution
        guard resolution >= 16 else { throw ValidationError("MS-SWD needs images of at least 16x16 (dataset is \(resolution)x\(resolution))") }
        guard real.count >= num else { throw ValidationError("--num \(num) but \(data) has only \(real.count) images") }
        if let other, other.count < num { throw ValidationError("--num \(num) but \(data2!) has only \(other.count) images") }

        let start = Date()
        // Set A: the reals of --data; set B: --data2 or the generator.
        let setA = SWDDescriptors(resolution: resolution, seed: seed)
        let setB = SWDDescriptors(resolution: resolution, seed: seed &+ 1)
        let batches = stride(from: 0, to: num, by: batch).map { Array($0..<min($0 + batch, num)) }
        for idx in batches { setA.add(real.images(resolution: resolution, indices: idx)) }
        if let other {
            for idx in batches { setB.add(other.images(resolution: resolution, indices: idx)) }
            print("MS-SWD x1e3: \(data) (\(num) images) vs \(data2!) (\(num) images) at \(resolution)x\(resolution)")
        } else {
            let synth = try Synthesizer.load(network!)
            let genRes = synth.resolution
            guard genRes <= resolution else {
                throw ValidationError("the network makes \(genRes)x\(genRes) images, more than the \(resolution)x\(resolution) compared at (--resolution)")
            }
            synth.frozen { synth in
                for seeds in batches {
                    var images = synth.imageTensor(seeds: seeds)
                    var r = genRes
                    while r < resolution { images = images.upsampled2x(); r *= 2 }
                    // ProGAN measured uint8 images: round the fakes to the 0..255 grid as the reals are.
                    setB.add(SlicedWasserstein.quantizedToUInt8Grid(images.detached()))
                }
            }
            print("MS-SWD x1e3: \(network!) (\(genRes)x\(genRes), alpha \(synth.alpha), \(num) images) vs \(data) at \(resolution)x\(resolution)")
        }
        let result = slicedWassersteinDistance(descriptorsA: setA.finalized(), descriptorsB: setB.finalized(),
                                               resolutions: setA.levels, seed: seed)
        for (r, d) in zip(result.resolutions, result.distances) {
            print(String(format: "  SWDx1e3_%-5d %.4f", r, d))
        }
        print(String(format: "  SWDx1e3_avg   %.4f", result.average))
        print(String(format: "  (%.1f s)", Date().timeIntervalSince(start)))
    }

    func runInception() throws {
        let start = Date()
        let inceptionPath = inception ?? InceptionV3.defaultPath
        let net = try InceptionV3.load(inceptionPath)
        let reals = try net.cachedFeatures(data, limit: numReal, inceptionPath: inceptionPath, batch: batch, progress: !json)
        let fakes: Tensor
        var name = chosen.rawValue
        if let network {
            let n = num ?? 50000
            fakes = try Synthesizer.load(network).frozen { synth in
                try net.extract(count: n, batch: batch, progress: !json, label: "generated") { InceptionV3.uint8(generated: synth.imageTensor(seeds: Array($0))) }
            }
            name += n % 1000 == 0 ? "\(n / 1000)k" : "\(n)"
        } else {
            let (count, loader, _) = try InceptionV3.reader(images!, limit: num)
            fakes = try net.extract(count: count, batch: batch, progress: !json, label: URL(fileURLWithPath: images!).lastPathComponent, load: loader)
        }
        guard reals.shape[0] >= 2, fakes.shape[0] >= 2 else { throw ValidationError("fid / kid need at least 2 images on each side") }
        let value = chosen == .fid
            ? try InceptionDistance.frechet(FeatureStatistics(features: fakes), FeatureStatistics(features: reals))
            : InceptionDistance.kernel(real: reals, generated: fakes, seed: seed)
        let seconds = Date().timeIntervalSince(start)
        if json {
            print(JSONLine([("metric", name), ("value", value), ("num_gen", fakes.shape[0]), ("num_real", reals.shape[0]),
                            ("seconds", (seconds * 10).rounded() / 10), ("generated", network ?? images!), ("real", data)]).text)
        } else {
            print(String(format: "%@ %.4f  (%d generated from %@, %d real from %@; %.1f s)", name, value, fakes.shape[0], network ?? images!,
                         reals.shape[0], data, seconds))
        }
    }
}
