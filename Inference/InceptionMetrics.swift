// FID and KID from images: Inception features of a network's images (seeds 0..N-1, quantised as
// NVIDIA's metrics do), of a folder of PNG / JPEG files, or of a prepared dataset; the reals'
// features cached beside them (keyed by the file list and the Inception file), so a second
// evaluation against the same data only runs the generated side.
import Foundation
import StyleGAN

public enum InceptionImageSource {
    /// The EMA generator of a checkpoint or weights file: seeds 0..<count, noise from each seed.
    case network(String, count: Int)
    /// A folder of PNG / JPEG files (sorted by name), or a prepared dataset cache; at most `limit`.
    case images(String, limit: Int?)
}

public struct InceptionEvaluator {
    public let net: InceptionV3
    public let inceptionPath: String
    public var batch = 16
    public var progress = true

    public init(inceptionPath: String?) throws {
        self.inceptionPath = inceptionPath ?? InceptionV3.defaultPath
        net = try InceptionV3.load(self.inceptionPath)
    }

    /// Features (N, 2048) of a source; a folder's or dataset's are cached beside it when `cache`.
    public func features(_ source: InceptionImageSource, cache: Bool = false) throws -> Tensor {
        switch source {
        case let .network(path, count):
            let synth = try Synthesizer.load(path)
            return try synth.frozen { synth in
                try net.extract(count: count, batch: batch, progress: progress, label: "generated") { range in
                    InceptionV3.uint8(generated: synth.imageTensor(seeds: Array(range)))
                }
            }
        case let .images(path, limit):
            if cache { return try net.cachedFeatures(path, limit: limit, inceptionPath: inceptionPath, batch: batch, progress: progress) }
            let (count, loader, _) = try InceptionV3.reader(path, limit: limit)
            return try net.extract(count: count, batch: batch, progress: progress, label: URL(fileURLWithPath: path).lastPathComponent, load: loader)
        }
    }
}

extension Synthesizer {
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
