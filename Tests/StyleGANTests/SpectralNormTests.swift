// Spectral normalisation: after power steps the normalised weight's largest singular value is 1,
// the estimate lives in u (saved with the checkpoint), and a D built with it trains its gradients.
import Foundation
import Testing
@testable import StyleGAN

/// Largest singular value of a (out, ...) weight by many power iterations in double.
private func largestSingularValue(_ w: Tensor) -> Double {
    let rows = w.shape[0], cols = w.count / rows
    var v = [Double](repeating: 1, count: cols)
    var sigma = 0.0
    for _ in 0..<500 {
        var u = [Double](repeating: 0, count: rows)
        for i in 0..<rows { for j in 0..<cols { u[i] += Double(w.data[i * cols + j]) * v[j] } }
        var nv = [Double](repeating: 0, count: cols)
        for j in 0..<cols { for i in 0..<rows { nv[j] += Double(w.data[i * cols + j]) * u[i] } }
        let n = sqrt(nv.reduce(0) { $0 + $1 * $1 })
        v = nv.map { $0 / n }
        sigma = sqrt(n)
    }
    return sigma
}

@Suite("Spectral norm")
struct SpectralNormTests {
    @Test func normalisedWeightHasUnitSpectralNorm() throws {
        var rng = ParameterInit(seed: 3)
        let conv = EqualizedConv2d(6, 5, kernel: 3, spectralNorm: true, init: &rng)
        for _ in 0..<60 { conv.powerStep() }
        let (w, gain) = GradMode.withoutGrad { conv.effectiveWeight(nil) }
        #expect(gain == 1)
        let sigma = largestSingularValue(w)
        print("  sigma of W / sigma(W): \(sigma), of W: \(largestSingularValue(conv.weight))")
        #expect(abs(sigma - 1) < 1e-3)
    }

    @Test func discriminatorWithSpectralNormSavesItsVectorsAndBackpropagates() throws {
        var config = Config.tiny
        config.dSpectralNorm = true
        let ckpt = GradMode.withoutGrad { Checkpoint(config: config, seed: 1) }
        ckpt.discriminator.powerStep()
        #expect(!ckpt.discriminator.buffers.isEmpty)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sn-\(getpid()).safetensors").path
        try ckpt.save(to: path)
        let back = try Checkpoint.load(from: path)
        for ((name, a), (_, b)) in zip(ckpt.discriminator.buffers, back.discriminator.buffers) {
            #expect(a.scalars == b.scalars, "\(name)")
        }
        let x = Tensor(randomNormal: [4, 3, 8, 8], seed: 2, requiresGrad: true)
        let g = gradients(of: [ckpt.discriminator(x).sum()], wrt: [x] + ckpt.discriminator.parameters.map(\.1))
        #expect(g.allSatisfy { $0.scalars.allSatisfy(\.isFinite) })
        #expect(g[0].scalars.contains { $0 != 0 })
    }
}
