// The fused 2x resampling convs (>= 128 px) run as 3x3 convs over pixel phases: G's upsampling as
// one conv with 4x the outputs, pixel-shuffled; D's downsampling as one conv of the
// pixel-unshuffled input. Same values and gradients as the stride-2 (transposed) convs they
// replace; the pixel shuffle is exactly PyTorch's pixel_shuffle(2), its inverse its adjoint.
import Testing
@testable import StyleGAN

@Suite("Resampling phases")
struct ResamplingPhasesTests {
    /// Values, and gradients with respect to `inputs` for the output gradient `dy`, within 1e-5 of
    /// each one's largest magnitude.
    func expectSame(_ got: Tensor, _ want: Tensor, wrt inputs: [Tensor], gradOutput dy: Tensor) {
        #expect(got.shape == want.shape)
        let pairs = [(got, want)] + zip(gradients(of: [got], wrt: inputs, gradOutputs: [dy]),
                                        gradients(of: [want], wrt: inputs, gradOutputs: [dy])).map { ($0, $1) }
        for (a, b) in pairs {
            let scale = b.scalars.map(abs).max()!
            #expect(zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
        }
    }

    @Test func pixelShuffleIsTheDefinition() {
        let x = Tensor(randomNormal: [2, 12, 3, 5], seed: 1)
        let y = x.pixelShuffled2x()
        #expect(y.shape == [2, 3, 6, 10])
        for n in 0..<2 { for c in 0..<3 { for r in 0..<3 { for s in 0..<5 { for a in 0..<2 { for b in 0..<2 {
            let want = x.data[((n * 12 + 4 * c + 2 * a + b) * 3 + r) * 5 + s]
            #expect(y.data[((n * 3 + c) * 6 + 2 * r + a) * 10 + 2 * s + b] == want)
        } } } } } }
        #expect(y.pixelUnshuffled2x().scalars == x.scalars)
    }

    @Test(arguments: [[1, 1, 1, 1, 1], [2, 3, 5, 4, 7], [3, 8, 6, 16, 9]])
    func phasesMatchTheTransposedConv(_ c: [Int]) {
        let (n, cin, cout, h, w) = (c[0], c[1], c[2], c[3], c[4])
        let x = Tensor(randomNormal: [n, cin, h, w], seed: 2, requiresGrad: true)
        let k = Tensor(randomNormal: [cout, cin, 3, 3], seed: 3, requiresGrad: true)
        let dy = Tensor(randomNormal: [n, cout, 2 * h, 2 * w], seed: 4)
        let viaTransposed = convTranspose2d(x, shiftedSum(k).transposed01(), stride: 2, padding: 1)
        let viaPhases = conv2d(x, upsamplingPhases(shiftedSum(k)), padding: 1).pixelShuffled2x()
        expectSame(viaPhases, viaTransposed, wrt: [x, k], gradOutput: dy)
    }

    @Test(arguments: [[1, 1, 1, 2, 2], [2, 3, 5, 4, 8], [3, 8, 6, 16, 10]])
    func phasesMatchTheStridedConv(_ c: [Int]) {
        let (n, cin, cout, h, w) = (c[0], c[1], c[2], c[3], c[4])
        let x = Tensor(randomNormal: [n, cin, h, w], seed: 5, requiresGrad: true)
        let k = Tensor(randomNormal: [cout, cin, 3, 3], seed: 6, requiresGrad: true)
        let dy = Tensor(randomNormal: [n, cout, h / 2, w / 2], seed: 7)
        let viaStride = conv2d(x, shiftedSum(k) * 0.25, stride: 2, padding: 1)
        let viaPhases = conv2d(x.pixelUnshuffled2x(), downsamplingPhases(shiftedSum(k) * 0.25), padding: 1)
        expectSame(viaPhases, viaStride, wrt: [x, k], gradOutput: dy)
    }
}
