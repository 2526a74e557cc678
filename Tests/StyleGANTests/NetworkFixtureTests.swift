// The generator and discriminator against the independent PyTorch reference in
// Tests/reference/networks.py, at every resolution 4..256 and several fade-in alphas: mapping
// output, images for fixed styles and noise, D scores, the gradients of a loss with respect to
// every parameter and to the inputs, and R1's penalty and its (second-order) parameter gradients.
import CKernels
import Foundation
import Testing
@testable import StyleGAN

/// The fixture networks' config (Tests/reference: "tiny" there, 16 channels down to 2 at 256).
let referenceConfig = Config(
    name: "reference", resolution: 256, zDim: 16, wDim: 16, mappingLayers: 8, fmapBase: 256, fmapMax: 16, fmapMin: 1,
    batchSize: 4, phaseKimg: 1)

/// G and D with the fixture's parameters loaded by name.
func referenceNetworks() throws -> (Generator, Discriminator) {
    let params = try SafetensorsFile.read(fixturesDirectory.appendingPathComponent("networks/params_tiny.safetensors").path)
    let g = Generator(config: referenceConfig, seed: 1), d = Discriminator(config: referenceConfig, seed: 1)
    for (name, t) in g.parameters + d.parameters {
        let stored = try params.tensor(name, shape: t.shape)
        t.assign(stored)
    }
    return (g, d)
}

/// Compares with an absolute tolerance relative to the reference tensor's largest value.
func expectNear(_ got: Tensor, _ want: Tensor, rel: Float, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let scale = want.scalars.map(abs).max() ?? 0
    expectClose(got, want, rtol: rel, atol: rel * max(scale, 1e-6), label, sourceLocation: sourceLocation)
}

/// As expectNear, but up to 0.5% of the elements may differ more. For the gradient with respect to
/// the input, through leaky ReLUs: a pre-activation within rounding of 0 may take the other slope
/// here than in PyTorch, which changes the gradient of the few pixels around it (Winograd's forward
/// rounding did this at one pixel of D at 32x32: 26 of 12,288 values; with the forward computed
/// directly the difference was 1e-8). A wrong rule changes far more than 0.5%.
func expectNearExceptKinks(_ got: Tensor, _ want: Tensor, rel: Float, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.shape == want.shape, "\(label): shape", sourceLocation: sourceLocation)
    guard got.shape == want.shape else { return }
    let atol = rel * max(want.scalars.map(abs).max() ?? 0, 1e-6)
    let outside = (0..<want.count).filter { !(abs(got.data[$0] - want.data[$0]) <= atol + rel * abs(want.data[$0])) }
    let inside = (0..<want.count).filter { !outside.contains($0) }
    let maxInside = inside.map { abs(got.data[$0] - want.data[$0]) }.max() ?? 0
    print(String(format: "  %-28@ max |diff| %.3e inside tolerance, %d of %d outside", label as NSString, maxInside, outside.count, want.count))
    #expect(Double(outside.count) <= 0.005 * Double(want.count), "\(label): \(outside.count) of \(want.count) values outside tolerance", sourceLocation: sourceLocation)
}

let networkCases: [(resolution: Int, alpha: Float)] = [
    (4, 1.0), (8, 1.0), (8, 0.5), (16, 0.3), (32, 1.0), (64, 0.7), (128, 1.0), (128, 0.5), (256, 0.6),
]

@Suite("Networks against the PyTorch reference", .serialized)
struct NetworkFixtureTests {
    static let networks = Result { try referenceNetworks() }

    func load(_ r: Int, _ alpha: Float) throws -> SafetensorsFile {
        try SafetensorsFile.read(fixturesDirectory.appendingPathComponent(
            String(format: "networks/r%d_a%03d.safetensors", r, Int((alpha * 100).rounded()))).path)
    }

    @Test("mapping network", arguments: [[4, 100], [64, 70]])
    func mapping(_ c: [Int]) throws {
        let (g, _) = try Self.networks.get()
        let f = try load(c[0], Float(c[1]) / 100)
        let w = g.mapping(try f.tensor("in.z"))
        expectNear(w, try f.tensor("out.w"), rel: 1e-4, "w")
        let params = g.mapping.namedParameters(prefix: "mapping")
        let grads = gradients(of: [w], wrt: params.map(\.1), gradOutputs: [try f.tensor("gw")])
        for ((name, _), grad) in zip(params, grads) {
            expectNear(grad, try f.tensor("grad_mapping.G." + name), rel: 1e-3, name)
        }
    }

    /// G's image and gradients on both convolution routes. The direct route (im2col + sgemm) rounds
    /// like PyTorch to ~1e-7 and is held to the fixtures' tolerances. Winograd rounds to ~1e-5 of a
    /// conv's output: a pre-activation that close to zero can take the other leaky-ReLU slope than
    /// in PyTorch, which moves the gradients that sum over every pixel (w, the style and conv
    /// weights) by up to ~1e-2 of their largest value (at 32 px a one-ulp change in the blur's
    /// summation order did that: 9e-3 in w's gradient). So Winograd's gradients are held to 2e-2:
    /// a wrong rule is off by far more, and the Winograd kernels themselves are checked against
    /// direct convolution to 5e-5 in CKernelsTests.
    @Test("generator: image and gradients", arguments: networkCases.map { [$0.resolution, Int($0.alpha * 100)] })
    func generator(_ c: [Int]) throws {
        let (r, alpha) = (c[0], Float(c[1]) / 100)
        let (g, _) = try Self.networks.get()
        let f = try load(r, alpha)
        for winograd in [false, true] {
            print("G at \(r)x\(r), alpha \(alpha), \(winograd ? "Winograd" : "direct") convolutions:")
            let was = winograd3x3_set_enabled(winograd ? 1 : 0)
            defer { _ = winograd3x3_set_enabled(was) }
            let ws = try f.tensor("in.ws").copy()
            ws.requiresGrad = true
            let maps = try (0..<Config.layerCount(at: r)).map { try f.tensor("in.noise\($0)") }
            let img = g.synthesis(ws, resolution: r, alpha: alpha, noise: .given(maps))
            expectNear(img, try f.tensor("out.img"), rel: 1e-4, "image")
            let used = g.parameters.filter { f.tensors["grad_g." + $0.0] != nil }
            #expect(!used.isEmpty)
            let grads = gradients(of: [img], wrt: [ws] + used.map(\.1), gradOutputs: [try f.tensor("gimg")])
            expectNear(grads[0], try f.tensor("grad_g.ws"), rel: winograd ? 2e-2 : 1e-3, "ws")
            for ((name, _), grad) in zip(used, grads.dropFirst()) {
                expectNear(grad, try f.tensor("grad_g." + name), rel: winograd ? 2e-2 : 2e-3, name)
            }
        }
    }

    @Test("discriminator: score, gradients, R1", arguments: networkCases.map { [$0.resolution, Int($0.alpha * 100)] })
    func discriminator(_ c: [Int]) throws {
        let (r, alpha) = (c[0], Float(c[1]) / 100)
        let (_, d) = try Self.networks.get()
        let f = try load(r, alpha)
        print("D at \(r)x\(r), alpha \(alpha):")
        let real = try f.tensor("in.real").copy()
        real.requiresGrad = true
        let score = d(real, alpha: alpha)
        expectNear(score, try f.tensor("out.score"), rel: 1e-4, "score")
        let used = d.parameters.filter { f.tensors["grad_d." + $0.0] != nil }
        let grads = gradients(of: [score], wrt: [real] + used.map(\.1), gradOutputs: [try f.tensor("gscore")])
        expectNearExceptKinks(grads[0], try f.tensor("grad_d.real"), rel: 1e-3, "real")
        for ((name, _), grad) in zip(used, grads.dropFirst()) {
            expectNear(grad, try f.tensor("grad_d." + name), rel: 2e-3, name)
        }
        // R1: the squared norm of the gradient of the scores with respect to the reals.
        let g = gradients(of: [d(real, alpha: alpha).sum()], wrt: [real], createGraph: true)[0]
        let penalty = g.square().sum()
        expectNear(penalty.reshaped([1]), try f.tensor("out.r1_penalty"), rel: 1e-3, "R1 penalty")
        let r1Used = d.parameters.filter { f.tensors["r1grad." + $0.0] != nil }
        let r1Grads = gradients(of: [penalty], wrt: r1Used.map(\.1))
        for ((name, _), grad) in zip(r1Used, r1Grads) {
            expectNear(grad, try f.tensor("r1grad." + name), rel: 5e-3, "R1 " + name)
        }
    }
}

@Suite("Parameter counts against NVlabs")
struct ParameterCountTests {
    /// NVlabs' G_style (G_mapping + G_synthesis) and D_basic at 256 px with their defaults
    /// (fmap_base 8192, fmap_max 512, 512-wide mapping, mbstd group 4), counted from their code
    /// (Tests/reference/README.md gives the per-layer derivation).
    @Test func paper256MatchesNVlabs() {
        let g = GradMode.withoutGrad { Generator(config: .paper256, seed: 0) }
        let count = { (p: NamedParameters) in p.reduce(0) { $0 + $1.1.count } }
        #expect(count(g.mapping.namedParameters()) == 2_101_248)
        #expect(count(g.synthesis.namedParameters()) == 23_984_981)
        let d = GradMode.withoutGrad { Discriminator(config: .paper256, seed: 0) }
        #expect(count(d.parameters) == 23_052_353)
        // Shapes that a misreading would change: the 4x4 D conv sees the stddev map, the first
        // 256 px conv upsamples from 128 px's width.
        #expect(d.epilogue.conv.conv.weight.shape == [512, 513, 3, 3])
        #expect(g.synthesis.layers[12].conv!.weight.shape == [64, 128, 3, 3])
        #expect(g.synthesis.layers.count == 14)
    }
}

/// StyleGAN2's weight demodulation (`Config.demodulate`) against Tests/reference/networks.py's
/// demodulating synthesis (make_demod_fixtures.py: the fixture network at 128 px), on both
/// convolution routes, with the tolerances of the AdaIN generator's test above.
@Suite("Weight demodulation against the PyTorch reference", .serialized)
struct DemodulationFixtureTests {
    static let file = Result { try SafetensorsFile.read(fixturesDirectory.appendingPathComponent("networks/demod.safetensors").path) }
    static let generator = Result { () throws -> Generator in
        var config = referenceConfig
        (config.resolution, config.demodulate) = (128, true)
        let g = Generator(config: config, seed: 1)
        for (name, t) in g.synthesis.namedParameters(prefix: "G.synthesis") { t.assign(try file.get().tensor(name, shape: t.shape)) }
        return g
    }

    @Test("image and gradients", arguments: [[4, 100], [16, 30], [128, 50]])
    func synthesis(_ c: [Int]) throws {
        let (r, alpha) = (c[0], Float(c[1]) / 100)
        let (f, g) = (try Self.file.get(), try Self.generator.get())
        let name = String(format: "r%d_a%03d", r, c[1])
        // The styles are C wide (no AdaIN bias half).
        #expect(g.synthesis.layers[0].styleAffine.weight.shape == [16, 16] && g.synthesis.layers[0].style == nil)
        for winograd in [false, true] {
            print("demodulated G at \(r)x\(r), alpha \(alpha), \(winograd ? "Winograd" : "direct") convolutions:")
            let was = winograd3x3_set_enabled(winograd ? 1 : 0)
            defer { _ = winograd3x3_set_enabled(was) }
            let ws = try f.tensor(name + ".in.ws").copy()
            ws.requiresGrad = true
            let maps = try (0..<Config.layerCount(at: r)).map { try f.tensor(name + ".in.noise\($0)") }
            let img = g.synthesis(ws, resolution: r, alpha: alpha, noise: .given(maps))
            expectNear(img, try f.tensor(name + ".out.img"), rel: 1e-4, "image")
            let used = g.synthesis.namedParameters(prefix: "G.synthesis").filter { f.tensors[name + ".grad." + $0.0] != nil }
            #expect(used.count > 5)
            let grads = gradients(of: [img], wrt: [ws] + used.map(\.1), gradOutputs: [try f.tensor(name + ".in.gimg")])
            expectNear(grads[0], try f.tensor(name + ".grad.ws"), rel: winograd ? 2e-2 : 1e-3, "ws")
            for ((p, _), grad) in zip(used, grads.dropFirst()) {
                expectNear(grad, try f.tensor(name + ".grad." + p), rel: winograd ? 2e-2 : 2e-3, p)
            }
        }
    }
}
