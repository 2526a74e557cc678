// The GAN losses (Training/Loss.swift) against PyTorch references written by
// Tests/reference/make_loss_fixtures.py: for each loss, the discriminator loss and its penalty,
// their gradients with respect to every D parameter, the reals and the fakes (second order for
// R1 and WGAN-GP), and the generator loss and its gradient with respect to the fakes. The
// reference D is the tiny fixture network (Tests/Fixtures/networks/params_tiny.safetensors) at
// 8x8. Checks are normwise: max |got - want| <= 1e-3 * scale, with scale the reference tensor's
// largest |value| (for the D parameter gradients, at least 1e-3 times the largest of them).
import Foundation
import Testing
import TestSupport
@testable import StyleGAN
@testable import Training

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The fixture networks' config ("tiny" in Tests/reference; the same as StyleGANTests' referenceConfig).
private let tinyConfig = Config(
    name: "reference", resolution: 256, zDim: 16, wDim: 16, mappingLayers: 8, fmapBase: 256, fmapMax: 16, fmapMin: 1,
    batchSize: 4, phaseKimg: 1)

private let lossCases = ["logistic", "wgangp", "hinge", "lsgan", "minimax", "wgan", "relativistic", "logistic_a050"]

private let tolerance: Float = 1e-3
/// For the D parameter gradients the scale is at least this fraction of the largest of them: a few
/// are 0 by cancellation (the last bias under wgan and relativistic).
private let gradFloor: Float = 1e-3

/// A fresh D with the fixture parameters loaded by name (fresh per test: tests run in parallel).
private func referenceDiscriminator() throws -> Discriminator {
    let params = try SafetensorsFile.read(fixtures.appendingPathComponent("networks/params_tiny.safetensors").path)
    let d = Discriminator(config: tinyConfig, seed: 1)
    for (name, t) in d.parameters { t.assign(try params.tensor(name, shape: t.shape)) }
    return d
}

private func loadCase(_ name: String) throws -> SafetensorsFile {
    try SafetensorsFile.read(fixtures.appendingPathComponent("losses/\(name).safetensors").path)
}

private func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }

/// max |got - want| / scale (infinite on a shape mismatch or NaN).
private func normwiseError(_ got: Tensor, _ want: Tensor, scale: Float) -> (diff: Float, ratio: Float) {
    guard got.shape == want.shape else { return (.infinity, .infinity) }
    var diff: Float = 0
    for i in 0..<want.count {
        let d = abs(got.data[i] - want.data[i])
        if d.isNaN { return (.nan, .infinity) }
        diff = max(diff, d)
    }
    return (diff, scale > 0 ? diff / scale : (diff == 0 ? 0 : .infinity))
}

/// Expects got ~ want normwise, prints the largest difference, and returns its ratio to the tolerance.
@discardableResult
private func expectMatch(_ got: Tensor, _ want: Tensor, scale: Float? = nil, _ label: String,
                         sourceLocation: SourceLocation = #_sourceLocation) -> Float {
    #expect(got.shape == want.shape, "\(label): shape \(got.shape) vs \(want.shape)", sourceLocation: sourceLocation)
    let s = scale ?? maxAbs(want)
    let (diff, ratio) = normwiseError(got, want, scale: s)
    print(String(format: "  %-32@ max |diff| %.3e  scale %.3e  (%.3f of tolerance)", label as NSString, diff, s, ratio / tolerance))
    #expect(ratio <= tolerance, "\(label): max |diff| \(diff) exceeds \(tolerance) x \(s)", sourceLocation: sourceLocation)
    return ratio / tolerance
}

private func scalarTensor(_ t: Tensor) -> Tensor { t.reshaped([1]) }

@Suite("GAN losses against the PyTorch reference", .serialized)
struct LossTests {
    @Test("discriminator and generator losses, values and gradients", arguments: lossCases)
    func lossCase(_ name: String) throws {
        let f = try loadCase(name)
        let lossName = try #require(f.metadata["loss"])
        let alphaText = try #require(f.metadata["alpha"])
        let alpha = try #require(Float(alphaText))
        #expect(f.metadata["resolution"] == "8" && f.metadata["step"] == "0")
        let loss = try Loss(name: lossName)
        try checkParams(loss, json: try #require(f.metadata["params"]))
        let d = try referenceDiscriminator()
        print("\(name) (loss \(lossName), alpha \(alpha)):")
        var worst: Float = 0

        // Discriminator step.
        let reals = try f.tensor("in.real", shape: [4, 3, 8, 8]).copy()
        let fakes = try f.tensor("in.fake", shape: [4, 3, 8, 8]).copy()
        reals.requiresGrad = true
        fakes.requiresGrad = true
        let eps = try f.tensor("in.eps", shape: [4, 1, 1, 1])
        let (lossD, penalty) = loss.discriminatorLoss(d: { d($0, alpha: alpha) }, reals: reals, fakes: fakes,
                                                      step: 0, interpolation: eps)
        worst = max(worst, expectMatch(scalarTensor(lossD), try f.tensor("out.loss_d"), "loss_d"))
        let wantPenalty = try f.tensor("out.penalty")
        if wantPenalty.item == 0 {
            #expect(penalty == 0, "penalty \(penalty) where the loss has none")
        } else {
            worst = max(worst, expectMatch(Tensor([penalty], shape: [1]), wantPenalty, "penalty"))
        }

        let params = d.parameters
        let grads = gradients(of: [lossD], wrt: params.map(\.1) + [reals, fakes])
        let used = params.indices.filter { f.tensors["dgrad." + params[$0].0] != nil }
        #expect(used.count >= 12, "only \(used.count) D parameter gradients in the fixture")
        let gradMax = try used.map { maxAbs(try f.tensor("dgrad." + params[$0].0)) }.max() ?? 0
        for i in params.indices {
            let (pname, _) = params[i]
            if let want = f.tensors["dgrad." + pname] {
                worst = max(worst, expectMatch(grads[i], want, scale: max(maxAbs(want), gradFloor * gradMax), "d/d " + pname))
            } else {
                #expect(maxAbs(grads[i]) == 0, "\(pname) is unused at 8x8 alpha \(alpha) but has gradient \(maxAbs(grads[i]))")
            }
        }
        worst = max(worst, expectMatch(grads[params.count], try f.tensor("dgrad.real"), "d/d real"))
        worst = max(worst, expectMatch(grads[params.count + 1], try f.tensor("dgrad.fake"), "d/d fake"))

        // Generator step: fakes as the (differentiated) input, reals for the relativistic loss.
        let gFakes = try f.tensor("in.fake").copy()
        gFakes.requiresGrad = true
        let gReals = try f.tensor("in.real").copy()
        let lossG = loss.generatorLoss(d: { d($0, alpha: alpha) }, fakes: gFakes, reals: gReals)
        worst = max(worst, expectMatch(scalarTensor(lossG), try f.tensor("out.loss_g"), "loss_g"))
        let gGrad = gradients(of: [lossG], wrt: [gFakes])[0]
        worst = max(worst, expectMatch(gGrad, try f.tensor("ggrad.fake"), "d loss_g/d fake"))
        print(String(format: "%@: worst %.3f of tolerance %.0e", name as NSString, worst, tolerance))
    }

    /// The fixture's recorded hyper-parameters are the ones `Loss(name:)` uses.
    private func checkParams(_ loss: Loss, json: String) throws {
        let p = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Double])
        switch loss {
        case let .logistic(r1, every):
            #expect(Double(r1) == p["r1_gamma"] && Double(every) == p["r1_every"])
        case let .wgangp(lambda, drift):
            #expect(Double(lambda) == p["lambda"] && abs(Double(drift) - (p["drift"] ?? 0)) < 1e-9)
        case let .wgan(clip):
            #expect(abs(Double(clip) - (p["clip"] ?? 0)) < 1e-9)
        case .hinge, .lsgan, .minimax, .relativistic:
            #expect(p.isEmpty)
        }
    }

    /// The fixtures discriminate: a hinge loss with one sign flipped, written by hand, misses them
    /// (while the correct hand-written hinge matches), and losses that share a D term differ in G.
    @Test func brokenLossesFailTheFixtures() throws {
        let f = try loadCase("hinge")
        let d = try referenceDiscriminator()
        let reals = try f.tensor("in.real").copy(), fakes = try f.tensor("in.fake").copy()
        fakes.requiresGrad = true
        let want = try f.tensor("out.loss_d")
        let params = d.parameters.filter { f.tensors["dgrad." + $0.0] != nil }

        // (value error, worst parameter-gradient error, fake-gradient error), each over its tolerance.
        func errors(_ lossFn: (Tensor, Tensor) -> Tensor) throws -> (Float, Float, Float) {
            let value = lossFn(d(reals), d(fakes))
            let v = normwiseError(scalarTensor(value), want, scale: maxAbs(want)).ratio / tolerance
            let grads = gradients(of: [value], wrt: params.map(\.1) + [fakes])
            var p: Float = 0
            for ((name, _), g) in zip(params, grads) {
                let w = try f.tensor("dgrad." + name)
                p = max(p, normwiseError(g, w, scale: maxAbs(w)).ratio / tolerance)
            }
            let w = try f.tensor("dgrad.fake")
            return (v, p, normwiseError(grads.last!, w, scale: maxAbs(w)).ratio / tolerance)
        }
        let correct = try errors { real, fake in ((1 - real).relu() + (fake + 1).relu()).mean() }
        print("hand-written hinge: value \(correct.0), params \(correct.1), fake \(correct.2) of tolerance")
        #expect(correct.0 <= 1 && correct.1 <= 1 && correct.2 <= 1)
        // relu(1 + real): the real term's sign flipped. Value and D gradients must miss.
        let flippedReal = try errors { real, fake in ((real + 1).relu() + (fake + 1).relu()).mean() }
        print("hinge, real sign flipped: value \(flippedReal.0), params \(flippedReal.1) of tolerance")
        #expect(flippedReal.0 > 10 && flippedReal.1 > 10)
        // relu(1 - fake): the fake term's sign flipped. Value, D gradients and d/d fake must miss.
        let flippedFake = try errors { real, fake in ((1 - real).relu() + (1 - fake).relu()).mean() }
        print("hinge, fake sign flipped: value \(flippedFake.0), params \(flippedFake.1), fake \(flippedFake.2) of tolerance")
        #expect(flippedFake.0 > 10 && flippedFake.1 > 10 && flippedFake.2 > 10)

        // logistic and minimax share their D loss (logistic adds R1 = gamma/2 * penalty here)
        // but not their G loss; the fixtures must reflect both.
        let lo = try loadCase("logistic"), mm = try loadCase("minimax")
        let loD = try lo.tensor("out.loss_d").item, mmD = try mm.tensor("out.loss_d").item
        let r1 = try lo.tensor("out.penalty").item
        #expect(abs(loD - 5 * r1 - mmD) <= tolerance * abs(mmD))
        #expect(r1 > 0.01)
        let loG = try lo.tensor("out.loss_g").item, mmG = try mm.tensor("out.loss_g").item
        print("G loss: logistic \(loG), minimax \(mmG)")
        #expect(abs(loG - mmG) > 100 * tolerance * max(abs(loG), abs(mmG)))
        // Swapping the G losses fails: Swift's minimax G loss misses the logistic fixture's G value.
        let mmLoss = try Loss(name: "minimax")
        let gValue = mmLoss.generatorLoss(d: { d($0) }, fakes: try lo.tensor("in.fake"), reals: nil)
        #expect(normwiseError(scalarTensor(gValue), try lo.tensor("out.loss_g"), scale: abs(loG)).ratio > 10 * tolerance)
    }

    /// R1 off (gamma 0) gives the minimax D loss; lazy R1 (every k steps) scales the term by k on
    /// its steps and skips it on the others.
    @Test func r1SwitchAndLazyInterval() throws {
        let lo = try loadCase("logistic"), mm = try loadCase("minimax")
        let d = try referenceDiscriminator()
        let r1 = try lo.tensor("out.penalty").item, mmD = try mm.tensor("out.loss_d")
        func run(_ loss: Loss, step: Int) throws -> (Tensor, Float) {
            let reals = try lo.tensor("in.real").copy(), fakes = try lo.tensor("in.fake").copy()
            let (l, p) = loss.discriminatorLoss(d: { d($0) }, reals: reals, fakes: fakes, step: step)
            return (scalarTensor(l), p)
        }
        let (off, offPenalty) = try run(try Loss(name: "logistic", r1Gamma: 0), step: 0)
        expectMatch(off, mmD, "gamma 0 = minimax")
        #expect(offPenalty == 0)
        let lazy = try Loss(name: "logistic", r1Every: 4)
        let (on, onPenalty) = try run(lazy, step: 8)
        expectMatch(on, Tensor([mmD.item + 4 * 5 * r1], shape: [1]), "lazy R1, step 8 of every 4")
        expectMatch(Tensor([onPenalty], shape: [1]), try lo.tensor("out.penalty"), "lazy R1 penalty")
        let (skip, skipPenalty) = try run(lazy, step: 9)
        expectMatch(skip, mmD, "lazy R1, step 9 (off)")
        #expect(skipPenalty == 0)
    }

    @Test func namesRoundTrip() throws {
        for name in Loss.names { #expect(try Loss(name: name).name == name) }
        expectError(.training) { try Loss(name: "wasserstein") }
        #expect(Loss.names.count == lossCases.count - 1)
    }
}
