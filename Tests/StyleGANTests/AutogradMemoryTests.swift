// The graph holds only what backward rules need: an intermediate that no rule captured is freed
// as soon as the forward lets go of it, and the gradients do not change for it. (A graph that held
// every input tensor kept a whole training step's activations alive: 6.7 GB at 128 px, 4.7 now.)
import Testing
@testable import StyleGAN

@Suite("Autograd memory")
struct AutogradMemoryTests {
    @Test func intermediatesNoRuleNeedsAreFreed() {
        let x = Tensor(randomNormal: [4, 4], seed: 1)
        x.requiresGrad = true
        weak var weakSum: Tensor?
        weak var weakMask: Tensor?
        let loss: Tensor
        do {
            let a = x + x                        // add keeps shapes only
            let b = a.biasLeakyReLU(nil)         // keeps its output's buffer as a mask, not `a`
            weakSum = a
            weakMask = b
            loss = (b - x).sum()
        }
        #expect(weakSum == nil, "x + x is still alive although no rule needs it")
        #expect(weakMask == nil, "the activation tensor is alive (its buffer may be, as the mask)")
        loss.backward()
        // d/dx (lrelu(2x) - x) = 2 * (x > 0 ? 1 : 0.2) - 1
        let want = x.scalars.map { 2 * ($0 > 0 ? 1 : 0.2) - 1 as Float }
        #expect(zip(x.grad!.scalars, want).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}
