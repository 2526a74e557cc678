// ADA's augmentation pipeline against PyTorch (Tests/reference/make_augment_fixtures.py: NVlabs'
// matrices and execution in float64), its gradients against finite differences, and p = 0 as the
// identity.
import Foundation
import Testing
@testable import StyleGAN
@testable import Training

@Suite("Augment") struct AugmentTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/augment")

    static func draws(_ json: String) throws -> [AugmentPipe.Draw] {
        let list = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [[String: Any]]
        return list.map { o in
            let num = { (k: String) in (o[k] as! NSNumber).doubleValue }
            let pair = { (k: String) in SIMD2((o[k] as! [NSNumber])[0].doubleValue, (o[k] as! [NSNumber])[1].doubleValue) }
            var d = AugmentPipe.Draw()
            (d.xflip, d.rotate90, d.lumaflip) = (Int(num("xflip")), Int(num("rotate90")), Int(num("lumaflip")))
            (d.xint, d.xfrac) = (pair("xint"), pair("xfrac"))
            (d.scale, d.preRotation, d.aniso, d.postRotation) = (num("scale"), num("preRotation"), num("aniso"), num("postRotation"))
            (d.brightness, d.contrast, d.hue, d.saturation) = (num("brightness"), num("contrast"), num("hue"), num("saturation"))
            return d
        }
    }

    static func maxDiff(_ a: [Double], _ b: [Float]) -> Double { zip(a, b).map { abs($0 - Double($1)) }.max()! }
    static func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! }

    @Test(arguments: ["augment_all_16", "augment_identity_8", "augment_rotate_only_12"])
    func matchesPyTorch(_ name: String) throws {
        let f = try SafetensorsFile.read(Self.directory.appendingPathComponent("\(name).safetensors").path)
        let draws = try Self.draws(f.metadata["draws"]!)
        let x = try f.tensor("in.x"), size = x.shape[3]
        let gInv = try f.tensor("G_inv").scalars, c = try f.tensor("C").scalars
        for (k, d) in draws.enumerated() {
            #expect(Self.maxDiff(AugmentPipe.geometric(d, width: size, height: size).values, Array(gInv[k * 9..<(k + 1) * 9])) < 1e-5, "\(name) G_inv \(k)")
            #expect(Self.maxDiff(AugmentPipe.colour(d), Array(c[k * 16..<(k + 1) * 16])) < 1e-6, "\(name) C \(k)")
        }
        x.requiresGrad = true
        let out = AugmentPipe(p: 1).apply(x, draws: draws)
        let diff = Self.maxDiff(out, try f.tensor("out"))
        print("\(name): max |out - torch| \(diff)")
        #expect(diff < 2e-5)
        let grad = gradients(of: [out], wrt: [x], gradOutputs: [try f.tensor("gy")])[0]
        let gdiff = Self.maxDiff(grad, try f.tensor("grad.x"))
        print("\(name): max |grad - torch| \(gdiff)")
        #expect(gdiff < 2e-5)
    }

    @Test func pZeroIsTheIdentity() {
        let x = Tensor(randomNormal: [3, 3, 8, 8], seed: 1)
        let pipe = AugmentPipe(p: 0)
        let draws = pipe.draws(batch: 3, samples: [0, 1, 2], size: (8, 8), seed: 5, stream: 40, step: 0)
        #expect(draws.allSatisfy { $0 == AugmentPipe.Draw() })
        let y = pipe.apply(x, draws: draws)
        #expect(y.scalars.map(\.bitPattern) == x.scalars.map(\.bitPattern))
    }

    @Test func drawsAreDeterministicAndPerSample() {
        let pipe = AugmentPipe(p: 0.7)
        let all = pipe.draws(batch: 6, samples: Array(0..<6), size: (16, 16), seed: 9, stream: 40, step: 3)
        #expect(all == pipe.draws(batch: 6, samples: Array(0..<6), size: (16, 16), seed: 9, stream: 40, step: 3))
        #expect(Array(all[3...4]) == pipe.draws(batch: 6, samples: [3, 4], size: (16, 16), seed: 9, stream: 40, step: 3))
        #expect(all != pipe.draws(batch: 6, samples: Array(0..<6), size: (16, 16), seed: 9, stream: 40, step: 4))
        // With p = 1 every continuous operation is applied to every sample.
        let sure = AugmentPipe(p: 1).draws(batch: 8, samples: Array(0..<8), size: (16, 16), seed: 2, stream: 40, step: 0)
        #expect(sure.allSatisfy { $0.scale != 1 && $0.aniso != 1 && $0.brightness != 0 && $0.contrast != 1 && $0.hue != 0 && $0.saturation != 1 })
    }

    /// The pipeline is linear in the image, so central differences are exact up to rounding; the
    /// second check differentiates the gradient again (R1 through augmented reals).
    @Test func gradientsMatchFiniteDifferences() {
        let pipe = AugmentPipe(p: 1)
        let draws = pipe.draws(batch: 2, samples: [0, 1], size: (8, 8), seed: 3, stream: 40, step: 1)
        let x = Tensor(randomNormal: [2, 3, 8, 8], seed: 4)
        let gy = Tensor(randomNormal: [2, 3, 8, 8], seed: 5)
        x.requiresGrad = true
        let grad = gradients(of: [pipe.apply(x, draws: draws)], wrt: [x], gradOutputs: [gy])[0]
        let loss = { (t: Tensor) -> Double in
            zip(pipe.apply(t, draws: draws).scalars, gy.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        for i in stride(from: 0, to: x.count, by: 37) {
            let (up, down) = (x.copy(), x.copy())
            up[flat: i] += 0.5
            down[flat: i] -= 0.5
            let fd = (loss(up) - loss(down)) / 1.0
            #expect(abs(fd - Double(grad[flat: i])) < 1e-3, "pixel \(i): fd \(fd) vs \(grad[flat: i])")
        }
        // R = |Aᵀ gy|², a quadratic in gy: its gradient 2 A Aᵀ gy through the adjoint's backward.
        let g2 = gy.copy()
        g2.requiresGrad = true
        let xi = Tensor(zeros: x.shape)
        xi.requiresGrad = true
        let r = { (v: Tensor) -> Tensor in
            let a = gradients(of: [pipe.apply(xi, draws: draws)], wrt: [xi], gradOutputs: [v], createGraph: true)[0]
            return a.square().sum()
        }
        let dR = gradients(of: [r(g2)], wrt: [g2])[0]
        for i in stride(from: 0, to: gy.count, by: 41) {
            let (up, down) = (gy.copy(), gy.copy())
            up[flat: i] += 0.25
            down[flat: i] -= 0.25
            let fd = (Double(r(up).item) - Double(r(down).item)) / 0.5
            #expect(abs(fd - Double(dR[flat: i])) < 2e-3 * max(1, abs(fd)), "gy \(i): fd \(fd) vs \(dR[flat: i])")
        }
    }
}
