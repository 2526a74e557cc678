// Reverse-mode autograd on a tape of primitive ops. Each primitive records, next to its output,
// a backward rule written with the same differentiable ops; run with `createGraph: true`, the
// gradient computation is itself recorded, so a gradient can be differentiated again (R1, WGAN-GP).

/// Where an op's input came from, as the graph needs it: a leaf tensor (a parameter or an input
/// whose gradient is wanted), the node of an op's output, or a constant. An intermediate tensor is
/// referenced through its node only, so its buffer is freed as soon as no backward rule captured
/// it (PyTorch's saved-tensors rule).
enum Edge {
    case leaf(Tensor)
    case node(Node, shape: [Int])
    case constant

    init(_ t: Tensor) {
        if let fn = t.gradFn { self = .node(fn, shape: t.shape) }
        else if t.requiresGrad { self = .leaf(t) }
        else { self = .constant }
    }

    var requiresGrad: Bool { if case .constant = self { return false } else { return true } }

    /// The key its gradient is gathered under during a backward pass.
    var key: ObjectIdentifier? {
        switch self {
        case .leaf(let t): return ObjectIdentifier(t)
        case .node(let n, _): return ObjectIdentifier(n)
        case .constant: return nil
        }
    }

    var shape: [Int]? {
        switch self {
        case .leaf(let t): return t.shape
        case .node(_, let shape): return shape
        case .constant: return nil
        }
    }
}

/// One recorded op: where its inputs came from and the rule mapping the output's gradient to
/// theirs. The rule captures the tensors it needs (never its own output strongly: a cycle).
final class Node {
    let name: String
    let inputs: [Edge]
    /// (gradient of the output, which inputs need a gradient) -> gradient per input (nil: none).
    let backward: (Tensor, [Bool]) -> [Tensor?]

    init(name: String, inputs: [Edge], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

/// The key a tensor's gradient is gathered under: its node's, or its own for a leaf.
func gradientKey(_ t: Tensor) -> ObjectIdentifier { t.gradFn.map(ObjectIdentifier.init) ?? ObjectIdentifier(t) }

/// Whether ops record themselves. Off inside `withoutGrad` and while a gradient is computed
/// without `createGraph`, so inference and plain backward passes build no graph.
public enum GradMode {
    /// Task-local (not a global) so that concurrent callers, such as parallel tests, don't see
    /// each other's setting.
    @TaskLocal static var enabled = true

    /// Runs `body` with recording off (inference, optimiser steps, EMA).
    public static func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
        try with(false, body)
    }

    static func with<T>(_ on: Bool, _ body: () throws -> T) rethrows -> T {
        try $enabled.withValue(on) { try body() }
    }
}

/// Attaches a node to `output` when recording is on and some input requires grad.
@discardableResult
func record(_ output: Tensor, _ name: String, _ inputs: [Tensor],
            _ backward: @escaping (Tensor, [Bool]) -> [Tensor?]) -> Tensor {
    guard GradMode.enabled, inputs.contains(where: { $0.requiresGrad }) else { return output }
    output.requiresGrad = true
    output.gradFn = Node(name: name, inputs: inputs.map(Edge.init), backward: backward)
    return output
}

/// Nodes reachable from `roots` through recorded inputs, parents before children.
private func topologicalOrder(_ roots: [Node]) -> [Node] {
    var order: [Node] = []
    var visited = Set<ObjectIdentifier>()
    // Iterative DFS: networks are deep enough that recursion would be a risk.
    var stack: [(Node, Int)] = roots.map { ($0, 0) }
    while let (n, next) = stack.popLast() {
        if next == 0 {
            if visited.contains(ObjectIdentifier(n)) { continue }
            visited.insert(ObjectIdentifier(n))
        }
        if next < n.inputs.count {
            stack.append((n, next + 1))
            if case .node(let child, _) = n.inputs[next], !visited.contains(ObjectIdentifier(child)) { stack.append((child, 0)) }
        } else {
            order.append(n)
        }
    }
    return order
}

/// Walks the graph backwards from `outputs` seeded with `seeds`. Returns the gradients gathered
/// under the keys for which `keep` is true (leaves' tensors, intermediates' nodes); other
/// gradients are dropped as soon as they are passed on. `leaves` collects the leaf tensors reached.
/// With `only`, an op computes an input's gradient only if that input leads to one of these keys
/// (torch.autograd.grad's pruning): R1's gradient with respect to the reals then skips every
/// conv's weight gradient.
private func propagate(_ outputs: [Tensor], seeds: [Tensor], createGraph: Bool,
                       keep: (ObjectIdentifier) -> Bool, only: Set<ObjectIdentifier>? = nil,
                       leaves: inout [Tensor]) -> [ObjectIdentifier: Tensor] {
    var grads: [ObjectIdentifier: Tensor] = [:]
    var seen = Set<ObjectIdentifier>()
    for (o, s) in zip(outputs, seeds) {
        precondition(o.shape == s.shape, "gradient seed shape \(s.shape) for output \(o.shape)")
        let id = gradientKey(o)
        grads[id] = grads[id].map { $0 + s } ?? s
        if o.gradFn == nil && o.requiresGrad && seen.insert(id).inserted { leaves.append(o) }
    }
    let order = topologicalOrder(outputs.compactMap(\.gradFn))
    // Nodes from which a wanted key can be reached (inputs come before their consumers in `order`).
    var leadsToWanted = Set<ObjectIdentifier>()
    if let only {
        for node in order {
            let id = ObjectIdentifier(node)
            if only.contains(id) || node.inputs.contains(where: { $0.key.map { only.contains($0) || leadsToWanted.contains($0) } ?? false }) {
                leadsToWanted.insert(id)
            }
        }
    }
    GradMode.with(createGraph) {
        for node in order.reversed() {
            let nodeKey = ObjectIdentifier(node)
            guard let g = grads[nodeKey] else { continue }
            if !keep(nodeKey) { grads[nodeKey] = nil }
            let needs = node.inputs.map { input in
                guard input.requiresGrad else { return false }
                guard let only, let key = input.key else { return true }
                return only.contains(key) || leadsToWanted.contains(key)
            }
            guard needs.contains(true) else { continue }
            let inputGrads = node.backward(g, needs)
            precondition(inputGrads.count == node.inputs.count, "\(node.name): backward returned \(inputGrads.count) gradients")
            for (input, ig) in zip(node.inputs, inputGrads) {
                guard let ig, let id = input.key else { continue }
                precondition(ig.shape == input.shape, "\(node.name): gradient \(ig.shape) for input \(input.shape ?? [])")
                grads[id] = grads[id].map { $0 + ig } ?? ig
                if case .leaf(let t) = input, seen.insert(id).inserted { leaves.append(t) }
            }
        }
    }
    return grads
}

extension Tensor {
    /// Accumulates d(self)/d(leaf) into `leaf.grad` for every leaf that requires grad.
    /// `self` must be a single value unless `gradient` is given.
    public func backward(_ gradient: Tensor? = nil, createGraph: Bool = false) {
        precondition(gradient != nil || count == 1, "backward() of a tensor with \(count) elements needs a gradient")
        let seed = gradient ?? Tensor(repeating: 1, shape: shape)
        var leaves: [Tensor] = []
        // Only nodes' gradients are ever dropped; every leaf's stays in `grads`.
        let grads = propagate([self], seeds: [seed], createGraph: createGraph, keep: { _ in false }, leaves: &leaves)
        for t in leaves {
            guard let g = grads[ObjectIdentifier(t)] else { continue }
            let g2 = createGraph ? g : g.detached()
            t.grad = t.grad.map { old in createGraph ? old + g2 : GradMode.withoutGrad { old + g2 } } ?? g2
        }
    }
}

/// Gradients of sum(outputs[i] * gradOutputs[i]) with respect to `inputs` (torch.autograd.grad).
/// With `createGraph`, the results are themselves differentiable. An input that the outputs do not
/// depend on gets zeros.
public func gradients(of outputs: [Tensor], wrt inputs: [Tensor], gradOutputs: [Tensor]? = nil,
                      createGraph: Bool = false) -> [Tensor] {
    let seeds = gradOutputs ?? outputs.map { Tensor(repeating: 1, shape: $0.shape) }
    precondition(seeds.count == outputs.count, "one gradient per output")
    let wanted = Set(inputs.map(gradientKey))
    var leaves: [Tensor] = []
    let grads = propagate(outputs, seeds: seeds, createGraph: createGraph, keep: { wanted.contains($0) }, only: wanted, leaves: &leaves)
    return inputs.map { grads[gradientKey($0)] ?? Tensor(zeros: $0.shape) }
}

public func gradients(of output: Tensor, wrt inputs: [Tensor], createGraph: Bool = false) -> [Tensor] {
    gradients(of: [output], wrt: inputs, createGraph: createGraph)
}
