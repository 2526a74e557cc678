// How a layer or network holds its state, as torch.nn.Module does: each declares its members
// once, in file order (trained tensors, buffers, child modules, by name), and every list derived
// from them is a walk: checkpoint names, the optimiser's parameters, the EMA's pairs, spectral
// norm's power steps, the run-time scales WGAN clips by. Nothing pairs tensors by list position.

public enum ModuleMember {
    /// A trained tensor and the factor it is multiplied by at run time (its equalised-lr scale;
    /// 1 where it is used as stored).
    case parameter(Tensor, runtimeScale: Float)
    /// State saved with the weights but not trained (w_avg, fixed noise, spectral-norm vectors).
    case buffer(Tensor)
    /// A child; one named "" shares its parent's prefix (a wrapper adds no name of its own).
    case module(any Module)

    public static func parameter(_ t: Tensor) -> ModuleMember { .parameter(t, runtimeScale: 1) }
}

public protocol Module: AnyObject {
    var members: [(String, ModuleMember)] { get }
}

/// A named list of tensors in a fixed order (the file order).
public typealias NamedParameters = [(String, Tensor)]

extension Module {
    /// Every tensor below this module with its full name ("<prefix>.<path>"), depth first in
    /// declaration order.
    public func walk(prefix: String = "", _ visit: (String, ModuleMember) -> Void) {
        for (name, member) in members {
            let full = name.isEmpty ? prefix : prefix.isEmpty ? name : prefix + "." + name
            if case let .module(child) = member { child.walk(prefix: full, visit) } else { visit(full, member) }
        }
    }

    public func namedParameters(prefix: String = "") -> NamedParameters {
        var out: NamedParameters = []
        walk(prefix: prefix) { name, m in if case let .parameter(t, _) = m { out.append((name, t)) } }
        return out
    }

    public func namedBuffers(prefix: String = "") -> NamedParameters {
        var out: NamedParameters = []
        walk(prefix: prefix) { name, m in if case let .buffer(t) = m { out.append((name, t)) } }
        return out
    }

    /// Each trained tensor with the factor it is multiplied by at run time.
    public var runtimeScales: [(Tensor, Float)] {
        var out: [(Tensor, Float)] = []
        walk { _, m in if case let .parameter(t, s) = m { out.append((t, s)) } }
        return out
    }

    /// This module and every module below it.
    public var modules: [any Module] {
        [self] + members.flatMap { _, m -> [any Module] in if case let .module(c) = m { return c.modules } else { return [] } }
    }

    /// One power iteration of every spectral norm below this module (once per training step).
    public func powerStep() {
        for case let conv as EqualizedConv2d in modules { conv.powerStep() }
    }
}

/// Copies `source`'s tensors into `destination`'s by name; both must hold the same names and
/// shapes (two networks of one config).
public func assignByName(_ destination: NamedParameters, from source: NamedParameters) {
    let byName = Dictionary(uniqueKeysWithValues: source.map { ($0.0, $0.1) })
    for (name, t) in destination {
        guard let s = byName[name] else { preconditionFailure("no tensor '\(name)' to copy from") }
        t.assign(s)
    }
}
