// `stylegan metrics --network FILE --data DATA --metric msswd [--num N] [--batch B] [--seed S]`
// and `stylegan metrics --data DATA --data2 DATA2 --metric msswd`: ProGAN's multi-scale sliced
// Wasserstein distance (x 1e3, per pyramid level and the average) between generated and real
// images, or between two prepared datasets (the real-vs-real noise floor).
import ArgumentParser
import Foundation
import StyleGAN

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute a quality metric (msswd: ProGAN's multi-scale sliced Wasserstein distance).")

    enum Metric: String, ExpressibleByArgument { case msswd }

    @Option(help: "Checkpoint file (.safetensors); its EMA generator makes the fake images.")
    var network: String?

    @Option(help: "Prepared dataset folder (stylegan prepare) with the real images.")
    var data: String

    @Option(help: "A second prepared dataset to compare with --data instead of a network.")
    var data2: String?

    @Option(help: "Metric: msswd.")
    var metric: Metric = .msswd

    @Option(help: "Images per set (generated seeds 0..num-1; dataset images 0..num-1).")
    var num: Int = 10000

    @Option(help: "Images per batch.")
    var batch: Int = 16

    @Option(help: "Seed of the metric's own random choices (neighbourhoods, directions).")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Compare at this resolution (default: the data's): the reals come from the prepared cache at it, and a network's images are upsampled to it only if smaller.",
                               discussion: "A snapshot from before the final resolution upsampled to it shows nearest-neighbour block edges at the finer levels; comparing at the snapshot's own resolution avoids that."))
    var resolution: Int?

    func validate() throws {
        if (network == nil) == (data2 == nil) { throw ValidationError("give exactly one of --network and --data2") }
        if num < 1 { throw ValidationError("--num must be at least 1") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let resolution, resolution < 16 || resolution & (resolution - 1) != 0 {
            throw ValidationError("--resolution must be a power of two of at least 16 (MS-SWD's coarsest level), got \(resolution)")
        }
    }

    func run() throws {
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
        for first in stride(from: 0, to: num, by: batch) {
            let idx = Array(first..<min(first + batch, num))
            setA.add(real.images(resolution: resolution, indices: idx))
        }
        if let other {
            for first in stride(from: 0, to: num, by: batch) {
                let idx = Array(first..<min(first + batch, num))
                setB.add(other.images(resolution: resolution, indices: idx))
            }
            print("MS-SWD x1e3: \(data) (\(num) images) vs \(data2!) (\(num) images) at \(resolution)x\(resolution)")
        } else {
            let ckpt = try GeneratorWeights.load(from: network!)
            let g = ckpt.generator
            let genRes = ckpt.resolution
            guard genRes <= resolution else {
                throw ValidationError("the network makes \(genRes)x\(genRes) images, more than the \(resolution)x\(resolution) compared at (--resolution)")
            }
            FrozenWeights.during(keepingTransformsOf: g.parameters) {
                for first in stride(from: 0, to: num, by: batch) {
                    let seeds = Array(first..<min(first + batch, num))
                    let z = Generator.latents(seeds: seeds, zDim: g.config.zDim)
                    var images = GradMode.withoutGrad { g(z, resolution: genRes, alpha: ckpt.alpha, noise: .random(seed: UInt64(first))) }
                    var r = genRes
                    while r < resolution { images = images.upsampled2x(); r *= 2 }
                    // ProGAN measured uint8 images: round the fakes to the 0..255 grid as the reals are.
                    setB.add(SlicedWasserstein.quantizedToUInt8Grid(images.detached()))
                }
            }
            print("MS-SWD x1e3: \(network!) (\(genRes)x\(genRes), alpha \(ckpt.alpha), \(num) images) vs \(data) at \(resolution)x\(resolution)")
        }
        let result = slicedWassersteinDistance(descriptorsA: setA.finalized(), descriptorsB: setB.finalized(),
                                               resolutions: setA.levels, seed: seed)
        for (r, d) in zip(result.resolutions, result.distances) {
            print(String(format: "  SWDx1e3_%-5d %.4f", r, d))
        }
        print(String(format: "  SWDx1e3_avg   %.4f", result.average))
        print(String(format: "  (%.1f s)", Date().timeIntervalSince(start)))
    }
}
