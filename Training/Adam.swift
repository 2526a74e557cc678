// Adam over a network's named parameters, on the fused C kernel. Equalised learning rate needs
// nothing special here: the run-time weight scale already gives every layer the same effective
// step (and the mapping network its 0.01x through its lr multiplier).
import StyleGAN

public final class Adam {
    public let parameters: NamedParameters
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public internal(set) var step = 0
    /// The moments, made at a parameter's first gradient (nil stands for zeros): until the
    /// network has grown into a layer, its moments would be memory that only holds zeros (at
    /// 8 px, two thirds of paper256's parameters, 240 MB). With beta1 = 0 (StyleGAN's) the first
    /// moment is the last gradient, used once: it is never kept (m stays nil, 180 MB at 128 px).
    var m: [Tensor?], v: [Tensor?]

    /// StyleGAN's defaults: lr 0.001, betas (0, 0.99), eps 1e-8.
    public init(_ parameters: NamedParameters, learningRate: Float = 0.001, beta1: Float = 0, beta2: Float = 0.99,
                epsilon: Float = 1e-8) {
        self.parameters = parameters
        (self.learningRate, self.beta1, self.beta2, self.epsilon) = (learningRate, beta1, beta2, epsilon)
        m = Array(repeating: nil, count: parameters.count)
        v = Array(repeating: nil, count: parameters.count)
    }

    /// One update from each parameter's `.grad` (parameters without a gradient are left alone),
    /// then clears the gradients.
    public func update() {
        precondition(!parameters.contains { FrozenWeights.isFrozen($0.1) }, "Adam.update inside FrozenWeights.during: cached weights would go stale")
        step += 1
        for (i, (_, p)) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            if v[i] == nil { v[i] = Tensor(zeros: p.shape) }
            if beta1 != 0 && m[i] == nil { m[i] = Tensor(zeros: p.shape) }
            p.adamUpdate(gradient: g, m: m[i], v: v[i]!, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, step: step)
            p.grad = nil
        }
    }

    public func zeroGrad() { for (_, p) in parameters { p.grad = nil } }

    /// Forgets the moments (ProGAN resets the optimiser when a new resolution fades in).
    public func reset() {
        step = 0
        m = m.map { _ in nil }
        v = v.map { _ in nil }
    }

    /// Moments as checkpoint tensors, "<prefix>.m.<name>" / "<prefix>.v.<name>" (zeros for those
    /// not made yet, and for every m when beta1 = 0).
    public func stateTensors(prefix: String) -> NamedParameters {
        parameters.indices.flatMap { i -> NamedParameters in
            let shape = parameters[i].1.shape
            return [("\(prefix).m.\(parameters[i].0)", m[i] ?? Tensor(zeros: shape)),
                    ("\(prefix).v.\(parameters[i].0)", v[i] ?? Tensor(zeros: shape))]
        }
    }

    public func load(state: [String: Tensor], prefix: String, step: Int) throws {
        for (i, (name, p)) in parameters.enumerated() {
            guard let sm = state["\(prefix).m.\(name)"], let sv = state["\(prefix).v.\(name)"], sm.shape == p.shape, sv.shape == p.shape else {
                throw StyleGANError.training("checkpoint lacks the optimiser state of \(name) (\(prefix))")
            }
            // All-zero moments (a layer not trained yet) stay unmade, as in a fresh run; with
            // beta1 = 0 the first moment is not used.
            let zero = { (t: Tensor) in t.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } } }
            m[i] = beta1 == 0 || zero(sm) ? nil : sm.copy()
            v[i] = zero(sv) ? nil : sv.copy()
        }
        self.step = step
    }
}

