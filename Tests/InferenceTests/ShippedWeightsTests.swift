// The shipped generator, weights/faces64.safetensors, still draws the committed picture of its
// seed 0: a change to the networks, the kernels or the file format that changes what users get
// fails here.
import Foundation
import Testing
@testable import Inference
@testable import StyleGAN

@Suite("Shipped weights")
struct ShippedWeightsTests {
    /// Seed 0 with the seed's noise, as the README's first command draws it; within 1/255, since
    /// another BLAS build may round differently.
    @Test func shippedFaces64DrawsItsCommittedSeed0() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let weights = root.appendingPathComponent("weights/faces64.safetensors").path
        let expected = try Image.read(root.appendingPathComponent("weights/faces64-seed0.png").path)
        let got = try Synthesizer.load(weights).generate(seed: 0)
        #expect(got.width == expected.width && got.height == expected.height && got.channels == expected.channels)
        let worst = zip(got.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
        print("faces64 seed 0: largest pixel difference \(worst)/255")
        #expect(worst <= 1)
    }
}
