// `stylegan bench generate`: generator inference time per image at a preset, resolution and batch
// (random untrained weights: the arithmetic is the same as a trained network's).
import CKernels
import Foundation
import StyleGAN

public enum GenerateBench {
    public static func run(config: Config, resolution: Int, batch: Int, iters: Int) -> BenchRow {
        let g = GradMode.withoutGrad { Generator(config: config, seed: 0) }
        let z = Tensor(randomNormal: [batch, config.zDim], seed: 1)
        // As `generate` runs: the weights' derived tensors made once for all the images.
        let t = FrozenWeights.during(keepingTransformsOf: g.parameters, maxTiles: FrozenWeights.generationMaxTiles) { cache in
            medianSeconds(iters: iters) {
                _ = GradMode.withoutGrad { g(z, resolution: resolution, noise: .random(seed: 2), cache: cache) }
            }
        }
        return BenchRow(name: "generate", fields: [
            ("config", config.name), ("resolution", resolution), ("batch", batch),
            ("ms_per_batch", t * 1e3), ("ms_per_image", t * 1e3 / Double(batch)), ("images_per_s", Double(batch) / t),
            ("peak_rss_mb", peakRSSMegabytes()), ("peak_tensor_mb", Double(ck_buffer_live_bytes(1, 0) >> 20)),
        ])
    }
}

/// `stylegan bench inception`: FID's Inception-v3 on 299x299 images (random weights of its shapes).
public enum InceptionBench {
    public static func run(batch: Int, iters: Int) -> BenchRow {
        let net = InceptionV3(randomSeed: 0)
        let x = GradMode.withoutGrad { (Tensor(randomUniform: [batch, 3, 299, 299], seed: 1) * 255).copy() }
        let t = FrozenWeights.during(keepingTransformsOf: net.parameters) { cache in
            medianSeconds(iters: iters) { _ = net.features(uint8: x, cache: cache) }
        }
        return BenchRow(name: "inception", fields: [
            ("resolution", 299), ("batch", batch), ("ms_per_batch", t * 1e3), ("ms_per_image", t * 1e3 / Double(batch)),
            ("images_per_s", Double(batch) / t), ("peak_rss_mb", peakRSSMegabytes()), ("peak_tensor_mb", Double(ck_buffer_live_bytes(1, 0) >> 20)),
        ])
    }
}
