// Reverse-mode autograd on a tape of primitive ops. Each primitive records, next to its output,
// a backward rule written with the same differentiable ops; run with `createGraph: true`, the
// gradient computation is itself recorded, so a gradient can be differentiated again (R1, WGAN-GP).

/// One recorded op: its inputs and the rule mapping the output's gradient to theirs.
final class Node {
    let name: String
    let inputs: [Tensor]
    /// (gradient of the output, which inputs need a gradient) -> gradient per input (nil: none).
    let backward: (Tensor, [Bool]) -> [Tensor?]

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

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
    output.gradFn = Node(name: name, inputs: inputs, backward: backward)
    return output
}

/// Tensors reachable from `roots` through recorded nodes, parents before children.
private func topologicalOrder(_ roots: [Tensor]) -> [Tensor] {
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    // Iterative DFS: networks are deep enough that recursion would be a risk.
    var stack: [(Tensor, Int)] = roots.map { ($0, 0) }
    while let (t, next) = stack.popLast() {
        if next == 0 {
            if visited.contains(ObjectIdentifier(t)) { continue }
            visited.insert(ObjectIdentifier(t))
        }
        let inputs = t.gradFn?.inputs ?? []
        if next < inputs.count {
            stack.append((t, next + 1))
            let child = inputs[next]
            if child.requiresGrad && !visited.contains(ObjectIdentifier(child)) { stack.append((child, 0)) }
        } else {
            order.append(t)
        }
    }
    return order
}

/// Walks the graph backwards from `outputs` seeded with `seeds`. Returns the gradients of the
/// tensors for which `keep` is true; other gradients are dropped as soon as they are passed on.
private func propagate(_ outputs: [Tensor], seeds: [Tensor], createGraph: Bool,
                       keep: (Tensor) -> Bool) -> [ObjectIdentifier: Tensor] {
    var grads: [ObjectIdentifier: Tensor] = [:]
    for (o, s) in zip(outputs, seeds) {
        precondition(o.shape == s.shape, "gradient seed shape \(s.shape) for output \(o.shape)")
        let id = ObjectIdentifier(o)
        grads[id] = grads[id].map { $0 + s } ?? s
    }
    GradMode.with(createGraph) {
        for t in topologicalOrder(outputs).reversed() {
            guard let node = t.gradFn, let g = grads[ObjectIdentifier(t)] else { continue }
            if !keep(t) { grads[ObjectIdentifier(t)] = nil }
            let needs = node.inputs.map { $0.requiresGrad }
            let inputGrads = node.backward(g, needs)
            precondition(inputGrads.count == node.inputs.count, "\(node.name): backward returned \(inputGrads.count) gradients")
            for (input, ig) in zip(node.inputs, inputGrads) where input.requiresGrad {
                guard let ig else { continue }
                precondition(ig.shape == input.shape, "\(node.name): gradient \(ig.shape) for input \(input.shape)")
                let id = ObjectIdentifier(input)
                grads[id] = grads[id].map { $0 + ig } ?? ig
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
        let grads = propagate([self], seeds: [seed], createGraph: createGraph, keep: { $0.gradFn == nil })
        for t in topologicalOrder([self]) where t.gradFn == nil && t.requiresGrad {
            guard let g = grads[ObjectIdentifier(t)] else { continue }
            let g2 = createGraph ? g : g.detached()
            if let old = t.grad {
                t.grad = createGraph ? old + g2 : GradMode.withoutGrad { old + g2 }
            } else {
                t.grad = g2
            }
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
    let wanted = Set(inputs.map(ObjectIdentifier.init))
    let grads = propagate(outputs, seeds: seeds, createGraph: createGraph, keep: { wanted.contains(ObjectIdentifier($0)) })
    return inputs.map { grads[ObjectIdentifier($0)] ?? Tensor(zeros: $0.shape) }
}

public func gradients(of output: Tensor, wrt inputs: [Tensor], createGraph: Bool = false) -> [Tensor] {
    gradients(of: [output], wrt: inputs, createGraph: createGraph)
}
