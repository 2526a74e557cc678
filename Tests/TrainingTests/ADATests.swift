// ADA in training: the controller's arithmetic, p moving up when D memorises a tiny set and down
// when D cannot reach the target, augmentation reaching G's gradient, and p in the checkpoint.
import Foundation
import Testing
import TestSupport
@testable import StyleGAN
@testable import Training

@Suite("ADA", .serialized)
struct ADATests {
    @Test func controllerStepsByTheIntervalsImages() throws {
        let ada = try AugmentMode(name: "ada", target: 0.6, kimg: 500)
        #expect(abs(ada.adjusted(0.1, rt: 0.8, images: 64 * 4) - Float(0.1 + 256.0 / 500_000)) < 1e-7)
        #expect(abs(ada.adjusted(0.1, rt: 0.2, images: 64 * 4) - Float(0.1 - 256.0 / 500_000)) < 1e-7)
        #expect(ada.adjusted(0.1, rt: Double(Float(0.6)), images: 256) == 0.1)
        #expect(ada.adjusted(0.0001, rt: -1, images: 256) == 0)
        #expect(AugmentMode.fixed.adjusted(0.3, rt: 1, images: 256) == 0.3)
        expectError(.training) { _ = try AugmentMode(name: "sometimes", target: 0.6, kimg: 500) }
        expectError(.training) { _ = try AugmentMode(name: "ada", target: 1.5, kimg: 500) }
    }

    func run(_ name: String, images: Int, kimg: Double, target: Float? = nil, p: Float? = nil, dAlone: Bool = false) throws -> (stats: [[String: Any]], out: String) {
        let data = try makeDataset(count: images, name: name)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-\(name)").path
        var o = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: kimg)
        (o.batch, o.phaseKimg, o.resolution, o.progress, o.snapshotKimg) = (4, 100, 4, false, kimg / 4)
        (o.augment, o.adaKimg, o.adaTarget, o.augmentP) = ("ada", 0.5, target, p)
        if dAlone { o.dWarmupKimg = kimg }
        try Trainer(o).train()
        return (try readStats(out + "/stats.jsonl").filter { $0["augment_p"] != nil }, out)
    }

    /// Four images against a G that does not learn (D trains alone): D soon tells them from any
    /// fake (r_t near 1), so p rises from 0.
    @Test func pRisesWhenDMemorisesATinySet() throws {
        let (stats, out) = try run("ada-up", images: 4, kimg: 0.4, dAlone: true)
        let p = stats.map { ($0["augment_p"] as! NSNumber).doubleValue }
        let rt = stats.map { ($0["rt"] as! NSNumber).doubleValue }
        print("p \(p.map { String(format: "%.3f", $0) }), rt \(rt.map { String(format: "%.2f", $0) })")
        #expect(rt.first! > 0.6 && p.last! > 0.2, "p \(p), rt \(rt)")
        let last = try Checkpoint.load(from: try RunFolder(out).checkpoints().last!.path)
        let state = try TrainingState(metadata: last.extraMetadata)!
        #expect(state.augment == "ada" && state.augmentP == Float(p.last!) && state.adaKimg == 0.5)
    }

    /// A target D cannot reach this early (r_t of 0.95 within 0.2 kimg): p falls from 0.5.
    @Test func pFallsWhenDCannotReachTheTarget() throws {
        let (stats, _) = try run("ada-down", images: 64, kimg: 0.2, target: 0.95, p: 0.5)
        let p = stats.map { ($0["augment_p"] as! NSNumber).doubleValue }
        #expect(p.last! < 0.4, "p \(p)")
    }

    @Test func fixedNeedsPAndPNeedsAugment() throws {
        let data = try makeDataset(count: 4, name: "ada-bad")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-run-\(getpid())-ada-bad").path
        var o = TrainOptions(data: data, outdir: out, config: .tiny, totalKimg: 0.01)
        o.augment = "fixed"
        expectError(.training) { _ = try Trainer(o) }
        (o.augment, o.augmentP) = (nil, 0.3)
        expectError(.training) { _ = try Trainer(o) }
    }

    /// G's gradient goes through the augmentation of the fakes: with p = 1 it differs from
    /// the unaugmented one, and with p = 0 it is the same bit for bit.
    @Test func generatorGradientFlowsThroughTheAugmentation() throws {
        func gGrad(p: Float?) -> [Float] {
            let gan = GradMode.withoutGrad { GAN(config: .tiny, seed: 1) }
            let step = TrainingStep(networks: gan, loss: .logistic(r1: 0, r1Every: 1), seed: 3)
            step.augment = p.map { AugmentPipe(p: $0) }
            let pass = TrainingStep.Pass(resolution: 8, alpha: 1, iteration: 0, batch: 4, samples: [0, 1, 2, 3])
            let fakes = gan.generator(Tensor(randomNormal: [4, gan.config.zDim], seed: 5), resolution: 8, alpha: 1, noise: .const)
            let out = gan.discriminator(step.augmented(fakes, pass, .augmentG, call: 0), alpha: 1)
            let w = gan.generator.parameters.first!.1
            return gradients(of: [out.sum()], wrt: [w])[0].scalars
        }
        let none = gGrad(p: nil), zero = gGrad(p: 0), full = gGrad(p: 1)
        #expect(none.map(\.bitPattern) == zero.map(\.bitPattern))
        #expect(zip(none, full).contains { abs($0 - $1) > 1e-6 })
        #expect(full.allSatisfy { $0.isFinite })
    }
}
