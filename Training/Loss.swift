// The GAN losses as one type with the cases the papers name, each with its discriminator and
// generator terms, and the gradient penalties (R1 on reals for the logistic loss, WGAN-GP on
// interpolates) built with create_graph so D's update includes their second derivative.
import StyleGAN

public enum Loss: Equatable {
    /// Non-saturating logistic with R1 on reals (StyleGAN's default, gamma 10); R1 every `r1Every` D steps (lazy).
    case logistic(r1: Float, r1Every: Int)
    /// WGAN-GP (ProGAN): lambda 10, drift epsilon 0.001.
    case wgangp(lambda: Float, drift: Float)
    case hinge
    case lsgan
    /// The original minimax game (saturating G loss).
    case minimax
    /// WGAN with the effective (run-time scaled) D weights clipped to [-clip, clip] after each D step.
    case wgan(clip: Float)
    /// Relativistic average GAN, logistic form (RaGAN / RaSGAN).
    case relativistic

    public static let names = ["logistic", "wgangp", "hinge", "lsgan", "minimax", "wgan", "relativistic"]

    public init(name: String, r1Gamma: Float = 10, r1Every: Int = 1) throws {
        switch name {
        case "logistic": self = .logistic(r1: r1Gamma, r1Every: r1Every)
        case "wgangp": self = .wgangp(lambda: 10, drift: 0.001)
        case "hinge": self = .hinge
        case "lsgan": self = .lsgan
        case "minimax": self = .minimax
        case "wgan": self = .wgan(clip: 0.01)
        case "relativistic": self = .relativistic
        default: throw StyleGANError.training("unknown loss '\(name)'; choose one of: \(Loss.names.joined(separator: ", "))")
        }
    }

    public var name: String {
        switch self {
        case .logistic: return "logistic"
        case .wgangp: return "wgangp"
        case .hinge: return "hinge"
        case .lsgan: return "lsgan"
        case .minimax: return "minimax"
        case .wgan: return "wgan"
        case .relativistic: return "relativistic"
        }
    }

    /// The discriminator's loss (mean over the batch) and its regulariser's value (0 if none).
    /// `d` scores images; `reals` must be a leaf (it is differentiated for R1). `interpolation`
    /// (N, 1, 1, 1) in [0, 1] places WGAN-GP's samples between reals and fakes.
    public func discriminatorLoss(d: (Tensor) -> Tensor, reals: Tensor, fakes: Tensor, step: Int,
                                  interpolation: Tensor? = nil) -> (loss: Tensor, penalty: Float) {
        // R1's weight on the steps that apply it (lazy: scaled by the interval); the reals must
        // require grad before D sees them.
        var r1Weight: Float?
        if case let .logistic(gamma, every) = self, gamma > 0 && step % max(every, 1) == 0 {
            r1Weight = gamma * 0.5 * Float(max(every, 1))
            reals.requiresGrad = true
        }
        let real = d(reals), fake = d(fakes)
        switch self {
        case .logistic, .minimax:
            let loss = (fake.softplus() + (-real).softplus()).mean()
            guard let r1Weight else { return (loss, 0) }
            // R1 (Mescheder et al.): gamma/2 E|grad_x D(x)|^2 on reals.
            let g = gradients(of: [real.sum()], wrt: [reals], createGraph: true)[0]
            let r1 = g.square().sum(axes: [1, 2, 3]).mean()
            let penalty = r1.item
            return (loss + r1 * r1Weight, penalty)
        case let .wgangp(lambda, drift):
            precondition(interpolation?.shape == [reals.shape[0], 1, 1, 1], "WGAN-GP needs one interpolation weight per sample")
            let eps = interpolation!
            let mixed = GradMode.withoutGrad { reals.detached() + (fakes.detached() - reals.detached()) * eps }
            mixed.requiresGrad = true
            let g = gradients(of: [d(mixed).sum()], wrt: [mixed], createGraph: true)[0]
            let norm = (g.square().sum(axes: [1, 2, 3]) + 1e-12).sqrt()
            let gp = (norm - 1).square().mean()
            return (fake.mean() - real.mean() + gp * lambda + real.square().mean() * drift, gp.item)
        case .hinge: return (((1 - real).relu() + (fake + 1).relu()).mean(), 0)
        case .lsgan: return (((real - 1).square() + fake.square()).mean() * 0.5, 0)
        case .wgan: return (fake.mean() - real.mean(), 0)
        case .relativistic:
            let (rm, fm) = (real.mean(), fake.mean())
            return (((-(real - fm)).softplus() + (fake - rm).softplus()).mean(), 0)
        }
    }

    /// The generator's loss (mean over the batch). `reals` is needed by the relativistic loss only.
    public func generatorLoss(d: (Tensor) -> Tensor, fakes: Tensor, reals: Tensor?) -> Tensor {
        let fake = d(fakes)
        switch self {
        case .logistic: return (-fake).softplus().mean()
        case .wgangp, .hinge, .wgan: return -fake.mean()
        case .lsgan: return (fake - 1).square().mean() * 0.5
        case .minimax: return -(fake.softplus().mean())
        case .relativistic:
            let real = GradMode.withoutGrad { d(reals!) }
            let (rm, fm) = (real.mean(), fake.mean())
            return ((-(fake - rm)).softplus() + (real - fm).softplus()).mean()
        }
    }

    public var needsRealsForGenerator: Bool { self == .relativistic }
}

/// ACGAN's auxiliary classifier term (Odena et al. 2017): the cross-entropy of class logits (N, K)
/// against one-hot labels (N, K), mean over the batch; log-sum-exp shifted by each row's maximum.
public func classCrossEntropy(logits: Tensor, labels: Tensor) -> Tensor {
    precondition(logits.rank == 2 && labels.shape == logits.shape, "classCrossEntropy: logits \(logits.shape), labels \(labels.shape)")
    let k = logits.shape[1]
    let v = logits.scalars
    let rowMax = Tensor(stride(from: 0, to: v.count, by: k).map { v[$0..<($0 + k)].max()! }, shape: [logits.shape[0], 1])
    let shifted = logits - rowMax
    return (shifted.exp().sum(axes: [1]).log() - (shifted * labels).sum(axes: [1])).mean()
}

