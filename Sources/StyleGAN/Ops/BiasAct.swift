// Bias + leaky ReLU in one pass, the activation after every StyleGAN conv and dense layer. Its
// derivative masks the incoming gradient with the output's sign: linear in the gradient, so the
// same primitive serves every derivative order.
import CKernels

extension Tensor {
    /// leaky_relu(x + b, slope) with b (C) added along axis 1 of x (N, C, ...). slope 1: bias only.
    public func biasLeakyReLU(_ bias: Tensor?, slope: Float = 0.2) -> Tensor {
        precondition(rank >= 2, "biasLeakyReLU: input \(shape) needs (N, C, ...)")
        let (n, c) = (shape[0], shape[1])
        let s = shape[2...].reduce(1, *)
        if let bias { precondition(bias.shape == [c], "biasLeakyReLU: bias \(bias.shape) for \(c) channels") }
        let y = Tensor.run(shape) { bias_leaky_relu_forward($0, data, bias?.data, Int32(n), Int32(c), s, slope) }
        let inputs = bias.map { [self, $0] } ?? [self]
        // The mask is a constant of the derivative, so the rule keeps the output's buffer only
        // (a view without history: holding `y` itself would be a cycle through its node).
        let mask = slope == 1 ? nil : y.detached()
        return record(y, "biasLeakyReLU", inputs) { [shape] g, needs in
            let gx = mask.map { leakyReLUGrad(g, mask: $0, slope: slope) } ?? g
            if needs.count == 1 { return [gx] }
            let gb = needs[1] ? gx.sumTo([1, c] + Array(repeating: 1, count: shape.count - 2)).reshaped([c]) : nil
            return [needs[0] ? gx : nil, gb]
        }
    }
}

extension Tensor {
    /// leaky_relu(x + noise * strength[c] + b[c], slope), StyleGAN's per-pixel noise, bias and
    /// activation after each synthesis conv in one pass: x (N, C, H, W), noise (N or 1, 1, H, W),
    /// strength and bias (C). As separate ops, noise * strength alone was a full activation (268 MB
    /// for 16 images at 256 px) and two more passes.
    public func noiseBiasLeakyReLU(noise: Tensor, strength: Tensor, bias: Tensor, slope: Float = 0.2) -> Tensor {
        precondition(rank == 4, "noiseBiasLeakyReLU: input \(shape) needs (N, C, H, W)")
        let (n, c) = (shape[0], shape[1])
        precondition(noise.rank == 4 && noise.shape[1] == 1 && Array(noise.shape[2...]) == Array(shape[2...])
                     && (noise.shape[0] == n || noise.shape[0] == 1), "noiseBiasLeakyReLU: noise \(noise.shape) for \(shape)")
        precondition(strength.shape == [c] && bias.shape == [c], "noiseBiasLeakyReLU: strength \(strength.shape), bias \(bias.shape) for \(c) channels")
        let y = Tensor.run(shape) {
            noise_bias_leaky_relu_forward($0, data, noise.data, noise.shape[0] == n && n > 1 ? 1 : 0, strength.data, bias.data,
                                          Int32(n), Int32(c), shape[2] * shape[3], slope)
        }
        let mask = y.detached()
        return record(y, "noiseBiasLeakyReLU", [self, noise, strength, bias]) { g, needs in
            let gx = leakyReLUGrad(g, mask: mask, slope: slope)
            let perChannel = [1, c, 1, 1]
            return [needs[0] ? gx : nil,
                    needs[1] ? (gx * strength.reshaped(perChannel)).sum(axes: [1]).sumTo(noise.shape) : nil,
                    needs[2] ? (gx * noise).sumTo(perChannel).reshaped([c]) : nil,
                    needs[3] ? gx.sumTo(perChannel).reshaped([c]) : nil]
        }
    }
}

/// g * (y > 0 ? 1 : slope): linear in g; the mask (from the forward's output) is a constant.
func leakyReLUGrad(_ g: Tensor, mask y: Tensor, slope: Float) -> Tensor {
    precondition(g.shape == y.shape, "leakyReLUGrad: \(g.shape) vs \(y.shape)")
    let dx = Tensor.run(g.shape) { leaky_relu_backward($0, g.data, y.data, g.count, slope) }
    let mask = y.detached()
    return record(dx, "leakyReLUGrad", [g]) { gg, _ in [leakyReLUGrad(gg, mask: mask, slope: slope)] }
}
