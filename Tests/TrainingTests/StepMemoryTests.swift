// A training iteration releases the D step's graph before the G step builds its own, so the peak
// of tensor memory over the iteration is that of its larger step, not the two graphs together
// (at 128 px the D graph alone is 1.4 GB).
import CKernels
import Testing
@testable import StyleGAN
@testable import Training

@Suite("Training step memory")
struct StepMemoryTests {
    func makeStep() -> (TrainingStep, Tensor) {
        var c = Config.small64
        c.batchSize = 4
        let networks = GradMode.withoutGrad { GAN(config: c, seed: 0) }
        let step = TrainingStep(networks: networks, loss: .logistic(r1: 10, r1Every: 1), seed: 0)
        return (step, Tensor(randomNormal: [4, 3, 16, 16], seed: 1))
    }

    @Test func anIterationPeaksAtItsLargerStep() {
        let pass = TrainingStep.Pass(resolution: 16, alpha: 0.5, iteration: 0, batch: 4, samples: [0, 1, 2, 3])

        // The two steps one after the other, each with its own peak (bytes above the start).
        let (step, reals) = makeStep()
        let start = ck_buffer_live_bytes(0, 1)
        #expect(step.discriminatorStep(pass, reals: reals.copy()) != nil)
        let dPeak = ck_buffer_live_bytes(1, 1) - start
        #expect(step.generatorStep(pass, reals: reals.copy()) != nil)
        let gPeak = ck_buffer_live_bytes(1, 1) - start

        // The whole iteration on identical fresh networks.
        let (fresh, freshReals) = makeStep()
        let freshStart = ck_buffer_live_bytes(0, 1)
        #expect(fresh.run(reals: freshReals, resolution: 16, alpha: 0.5, lr: 0.001, iteration: 0, nimg: 0) != nil)
        let runPeak = ck_buffer_live_bytes(1, 1) - freshStart

        #expect(dPeak > 0 && gPeak > 0)
        #expect(runPeak <= max(dPeak, gPeak) + (1 << 20), "iteration peak \(runPeak >> 10) KB, D step \(dPeak >> 10) KB, G step \(gPeak >> 10) KB")
    }
}
