// `stylegan import` against the reference implementations: rosinality's own model.py (fixtures
// written by Tests/reference/make_rosinality_fixtures.py with upstream 07fa60b) and a NumPy
// re-implementation of NVlabs' networks_stylegan.py on pickles of NVIDIA's structure
// (make_nvidia_fixtures.py). Same z, noise off: the images match before quantisation.
import Foundation
import Testing
import TestSupport
@testable import Inference
@testable import StyleGAN

let importFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/import")

func importFixture(_ name: String) -> String { importFixtures.appendingPathComponent(name).path }

/// The largest |a - b| over all elements, shapes checked.
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
    return (0..<a.count).reduce(0) { max($0, abs(a.data[$1] - b.data[$1])) }
}

@Suite("Import of rosinality and NVIDIA weights")
struct ImportTests {
    /// Images of every row of z through the imported EMA generator.
    static func images(_ w: GeneratorWeights, z: Tensor, alpha: Float = 1, noise: NoiseInput = .none, truncation: Truncation? = nil) throws -> Tensor {
        let synth = Synthesizer(weights: w)
        return try GradMode.withoutGrad {
            var ws = w.generator.broadcast(w.generator.mapping(z)).narrow(axis: 1, start: 0, length: synth.layerCount)
            if let truncation { ws = try truncation.apply(ws, wAvg: w.generator.wAvg) }
            return w.generator.synthesis(ws, resolution: w.resolution, alpha: alpha, noise: noise)
        }
    }

    /// 1e-3 of [-1, 1]'s range, absolute, although the random fixture networks' outputs reach
    /// +-64 (measured: 2e-5 to 2e-4, and 8e-4 for rosinality at 256 px, whose outputs are largest).
    static func tolerance(_ want: Tensor) -> Float { 2e-3 }

    static func outputMagnitude(_ t: Tensor) -> Float { (0..<t.count).reduce(Float(0)) { max($0, abs(t.data[$1])) } }

    @Test(arguments: [8, 32, 256])
    func rosinalityGeneratorMatchesUpstream(resolution r: Int) throws {
        let imported = try ImportedNetworks.read(importFixture("rosinality-\(r).pt"), resolution: r)
        let (ckpt, weights) = try imported.build()
        #expect(ckpt != nil && weights.config.resolution == r && weights.config.biasBeforeBlur == true)
        let z = try NumPy.read(importFixture("rosinality-\(r)-z.npy"))
        let want = try NumPy.read(importFixture("rosinality-\(r)-images.npy"))
        let got = try Self.images(weights, z: z)
        let diff = maxAbsDiff(got, want)
        print("rosinality \(r) px: max |diff| \(diff) (outputs up to \(Self.outputMagnitude(want)))")
        #expect(diff <= Self.tolerance(want), "\(r) px: max |diff| \(diff)")
        // After quantisation: at most one level of 255.
        for i in 0..<want.count {
            let q = { (x: Float) in Int((min(max(x, -1), 1) + 1) * 127.5 + 0.5) }
            #expect(abs(q(got.data[i]) - q(want.data[i])) <= 1)
            if abs(q(got.data[i]) - q(want.data[i])) > 1 { break }
        }
    }

    @Test func rosinalityFadeInNoiseAndDiscriminator() throws {
        let (ckpt, weights) = try ImportedNetworks.read(importFixture("rosinality-32.pt"), resolution: 32).build()
        let z = try NumPy.read(importFixture("rosinality-32-z.npy"))
        // Fade-in (alpha 0.5): the 16 px toRGB, upsampled, blended.
        let alphaWant = try NumPy.read(importFixture("rosinality-32-images-alpha.npy"))
        let alphaGot = try Self.images(weights, z: z, alpha: 0.5)
        #expect(maxAbsDiff(alphaGot, alphaWant) <= Self.tolerance(alphaWant))
        // Given noise: one map per resolution, the same for both of its layers.
        let maps = try [4, 8, 16, 32].flatMap { r -> [Tensor] in
            let m = try NumPy.read(importFixture("rosinality-32-noise-\(r).npy"))
            return [m, m]
        }
        let noiseWant = try NumPy.read(importFixture("rosinality-32-images-noise.npy"))
        let noiseGot = try Self.images(weights, z: z, noise: .given(maps))
        #expect(maxAbsDiff(noiseGot, noiseWant) <= Self.tolerance(noiseWant))
        // D on the reference images, at alpha 1 and 0.5 (whole-batch stddev, rosinality's blocks).
        let d = try #require(ckpt).discriminator
        let images = try NumPy.read(importFixture("rosinality-32-images.npy"))
        for (file, alpha) in [("rosinality-32-d-scores.npy", Float(1)), ("rosinality-32-d-scores-alpha.npy", 0.5)] {
            let want = try NumPy.read(importFixture(file))
            let got = GradMode.withoutGrad { d(images, alpha: alpha) }
            #expect(maxAbsDiff(got, want) <= 1e-3 * max(1, want.scalars.map(abs).max()!), "D \(file): \(got.scalars) vs \(want.scalars)")
        }
    }

    @Test(arguments: [8, 256])
    func rosinalityDiscriminatorMatchesUpstream(resolution r: Int) throws {
        let (ckpt, _) = try ImportedNetworks.read(importFixture("rosinality-\(r).pt"), resolution: r).build()
        let images = try NumPy.read(importFixture("rosinality-\(r)-images.npy"))
        let want = try NumPy.read(importFixture("rosinality-\(r)-d-scores.npy"))
        let got = GradMode.withoutGrad { try! #require(ckpt).discriminator(images) }
        #expect(maxAbsDiff(got, want) <= 1e-3 * max(1, want.scalars.map(abs).max()!), "D at \(r): \(got.scalars) vs \(want.scalars)")
    }

    @Test func rosinalityFormsAgree() throws {
        // The legacy (pre-1.6) format and the zip format hold the same weights; a bare g_running
        // state dict gives the same EMA generator and no D.
        let zip = try ImportedNetworks.read(importFixture("rosinality-8.pt"), resolution: 8)
        let legacy = try ImportedNetworks.read(importFixture("rosinality-8-legacy.pt"), resolution: 8)
        #expect(Set(zip.tensors.keys) == Set(legacy.tensors.keys))
        for (k, t) in zip.tensors { #expect(maxAbsDiff(t, legacy.tensors[k]!) == 0, "\(k)") }
        let bare = try ImportedNetworks.read(importFixture("rosinality-32-g_running-statedict.pt"), resolution: 32)
        let full = try ImportedNetworks.read(importFixture("rosinality-32.pt"), resolution: 32)
        #expect(!bare.hasTrainingNetworks)
        #expect(try bare.build().checkpoint == nil)
        for (k, t) in bare.tensors { #expect(maxAbsDiff(t, full.tensors[k]!) == 0, "\(k)") }
        // Without --resolution (and no size in the name) the importer cannot know it.
        expectError(.importing) { try ImportedNetworks.read(importFixture("rosinality-8.pt")) }
        expectError(.importing) { try ImportedNetworks.read(importFixture("rosinality-8.pt"), resolution: 2048) }
        #expect(Rosinality.resolutionFromName("stylegan-256px-new.model") == 256 && Rosinality.resolutionFromName("train_step-7.model") == 256)
    }

    @Test(arguments: [32, 256])
    func nvidiaPickleMatchesReference(resolution r: Int) throws {
        let imported = try ImportedNetworks.read(importFixture("nvidia-\(r).pkl"))
        let (ckpt, weights) = try imported.build()
        #expect(weights.config.resolution == r && weights.config.biasBeforeBlur == nil)
        let z = try NumPy.read(importFixture("nvidia-\(r)-z.npy"))
        let cases: [(String, NoiseInput, Truncation?)] = [
            ("none", .none, nil), ("const", .const, nil), ("trunc", .none, try Truncation(psi: 0.7, cutoff: 4)),
        ]
        for (name, noise, truncation) in cases {
            let want = try NumPy.read(importFixture("nvidia-\(r)-images-\(name).npy"))
            let got = try Self.images(weights, z: z, noise: noise, truncation: truncation)
            let diff = maxAbsDiff(got, want)
            print("NVIDIA \(r) px, \(name): max |diff| \(diff) (outputs up to \(Self.outputMagnitude(want)))")
            #expect(diff <= Self.tolerance(want), "\(r) px \(name): max |diff| \(diff)")
        }
        // The mapping alone, one w per layer (NVIDIA's dlatents before truncation).
        let dlatents = try NumPy.read(importFixture("nvidia-\(r)-dlatents.npy"))
        let ws = GradMode.withoutGrad { weights.generator.broadcast(weights.generator.mapping(z)) }
        #expect(maxAbsDiff(ws, dlatents) <= 1e-4 * max(1, dlatents.scalars.map(abs).max()!))
        let images = try NumPy.read(importFixture("nvidia-\(r)-images-none.npy"))
        let want = try NumPy.read(importFixture("nvidia-\(r)-d-scores.npy"))
        let d = try #require(ckpt).discriminator
        let got = GradMode.withoutGrad { d(images) }
        #expect(maxAbsDiff(got, want.reshaped(got.shape)) <= 1e-3 * max(1, want.scalars.map(abs).max()!), "D: \(got.scalars) vs \(want.scalars)")
        if r == 32 {
            // Eight images: two minibatch-stddev groups of four (sample i in group i % 2, as NVlabs' reshape).
            let eight = concat([images, try NumPy.read(importFixture("nvidia-32-images-const.npy"))], axis: 0)
            let want8 = try NumPy.read(importFixture("nvidia-32-d-scores-n8.npy"))
            let got8 = GradMode.withoutGrad { d(eight) }
            #expect(maxAbsDiff(got8, want8.reshaped(got8.shape)) <= 1e-3 * max(1, want8.scalars.map(abs).max()!), "D n8: \(got8.scalars) vs \(want8.scalars)")
        }
    }

    @Test func nvidiaProtocol2AndCutResolution() throws {
        let p4 = try ImportedNetworks.read(importFixture("nvidia-32.pkl"))
        let p2 = try ImportedNetworks.read(importFixture("nvidia-32-proto2.pkl"))
        #expect(Set(p4.tensors.keys) == Set(p2.tensors.keys))
        for (k, t) in p4.tensors { #expect(maxAbsDiff(t, p2.tensors[k]!) == 0, "\(k)") }
        // Cut to 16 px: the 16 px toRGB (lod 1 of the 32 px file) ends the network.
        let cut = try ImportedNetworks.read(importFixture("nvidia-32.pkl"), resolution: 16)
        let (_, w) = try cut.build()
        #expect(w.config.resolution == 16 && w.config.layerCount == 6)
        #expect(maxAbsDiff(w.generator.synthesis.toRGB[16]!.conv.weight, p4.tensors["G_ema.synthesis.torgb16.weight"]!) == 0)
    }

    @Test func importedFilesRoundTrip() throws {
        // Written and read back as our own formats: a full checkpoint, and a generator-only file.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-import-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (ckpt, weights) = try ImportedNetworks.read(importFixture("rosinality-32.pt"), resolution: 32).build()
        let path = dir.appendingPathComponent("ros.safetensors").path
        try #require(ckpt).save(to: path)
        let back = try GeneratorWeights.load(from: path)
        #expect(back.config == weights.config && back.extraMetadata["imported_from"] != nil)
        let z = try NumPy.read(importFixture("rosinality-32-z.npy"))
        #expect(maxAbsDiff(try Self.images(back, z: z), try Self.images(weights, z: z)) == 0)
        let loaded = try Checkpoint.load(from: path)
        #expect(loaded.config.dChannelsChangeFirst == true && loaded.config.mbstdWholeBatch == true)
    }
}
