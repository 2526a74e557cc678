// `stylegan bench train`: the time of one full training iteration (D step with the logistic loss
// and R1 on reals every step, G step with style mixing, Adam, EMA) at a preset, resolution, alpha
// and batch, on random reals (the arithmetic is the same as on a dataset's). Under mpirun the batch
// is the global one, split over the ranks as in training, and images/s counts the global batch.
import Foundation
import CKernels
import StyleGAN

public enum TrainBench {
    /// `augmentP`: ADA's pipeline at that p on every image D sees (nil: none).
    public static func run(config: Config, resolution: Int, alpha: Float, batch: Int, iters: Int, augmentP: Float? = nil,
                           collective: Collective = .single) throws -> BenchRow {
        var c = config
        c.batchSize = batch
        try Trainer.checkShards(batch: batch, resolution: resolution, ranks: collective.size, groupSize: c.mbstdGroupSize)
        let networks = GradMode.withoutGrad { GAN(config: c, seed: 0) }
        let step = TrainingStep(networks: networks, loss: .logistic(r1: 10, r1Every: 1), seed: 0, collective: collective)
        step.augment = augmentP.map { AugmentPipe(p: $0) }
        let shard = Shard(rank: collective.rank, size: collective.size).samples(of: batch)
        let reals = Tensor(randomNormal: [batch, 3, resolution, resolution], rows: shard, seed: 9)
        var iteration = 0
        let seconds = medianSeconds(iters: iters) {
            _ = step.run(reals: reals.copy(), resolution: resolution, alpha: alpha, lr: 0.001, iteration: iteration, nimg: iteration * batch)
            iteration += 1
        }
        return BenchRow(name: "train", fields: [
            ("config", c.name), ("resolution", resolution), ("alpha", alpha), ("batch", batch), ("ranks", collective.size), ("augment_p", augmentP ?? 0),
            ("ms_per_iter", seconds * 1e3), ("images_per_s", Double(batch) / seconds),
            ("allreduce_ms_per_iter", step.averager.seconds * 1e3 / Double(iteration)), ("peak_rss_mb", peakRSSMegabytes()),
            ("peak_tensor_mb", Double(ck_buffer_live_bytes(1, 0) >> 20)),
        ])
    }
}

/// `stylegan bench project`: one step of the projector (pixel distance) at a preset and resolution
/// (random weights), as `bench_torch.py project` times the same loop.
public enum ProjectBench {
    public static func run(config: Config, resolution: Int, iters: Int) -> BenchRow {
        let g = GradMode.withoutGrad { Generator(config: config, seed: 0) }
        let target = GradMode.withoutGrad { (Tensor(randomUniform: [1, 3, resolution, resolution], seed: 1) * 2 - 1).copy() }
        var o = ProjectionOptions()
        o.steps = iters + 1
        var times: [Double] = []
        var last = Date()
        _ = Projector.project(g, target: target, resolution: resolution, options: o) { step, _, _ in
            let now = Date()
            if step > 0 { times.append(now.timeIntervalSince(last)) }  // the first step warms up
            last = now
        }
        let t = times.sorted()[times.count / 2]
        return BenchRow(name: "project", fields: [("config", config.name), ("resolution", resolution), ("ms_per_step", t * 1e3),
                                                  ("steps_per_s", 1 / t), ("peak_rss_mb", peakRSSMegabytes())])
    }
}
