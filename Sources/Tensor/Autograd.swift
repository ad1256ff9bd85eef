// Reverse-mode autograd. Every differentiable op builds its output and, when some input
// requires gradients and grad mode is on, attaches a `Node` holding the inputs and a closure
// that maps the output's gradient to one gradient per input (nil where none is needed).
// `backward()` orders the nodes topologically, runs the closures from the output back, and
// drops each node as soon as it has run, so saved activations are freed as the tape is consumed.

final class Node {
    let inputs: [Tensor]
    var backward: ((Tensor) -> [Tensor?])?

    init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether operations record the graph. A task-local (thread-local outside tasks), so a no-grad
/// scope on one thread never disables recording on another.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording the graph (inference, evaluation, frozen encoders).
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// Attaches `backward` to `out` when any of `inputs` requires gradients; returns `out`.
    /// The closure receives d(loss)/d(out) and returns d(loss)/d(input) for each input, in order,
    /// with `nil` for inputs that do not require gradients (compute only what is needed).
    @discardableResult
    func recorded(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        if GradMode.isEnabled && inputs.contains(where: { $0.requiresGrad }) {
            requiresGrad = true
            node = Node(inputs: inputs, backward: backward)
        }
        return self
    }

    /// Back-propagates from this tensor. Without `gradient` the tensor must hold one element
    /// (a loss) and its gradient is 1. Leaf gradients accumulate into `grad`; the graph is freed.
    public func backward(_ gradient: Tensor? = nil) {
        precondition(gradient != nil || count == 1, "backward() without a gradient needs a scalar, shape is \(shape)")
        guard requiresGrad else { return }

        // Post-order DFS over nodes, iteratively (graphs of deep models are long chains).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            guard visited.insert(ObjectIdentifier(t)).inserted else { continue }
            stack.append((t, true))
            if let node = t.node {
                for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }

        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): gradient ?? Tensor.ones(shape)]
        for t in order.reversed() {
            guard let g = pending.removeValue(forKey: ObjectIdentifier(t)) else { continue }
            guard let node = t.node, let rule = node.backward else {
                // A leaf: accumulate. Gradient tensors are never written in place, so sharing is safe.
                t.grad = t.grad.map { $0.adding(g) } ?? g
                continue
            }
            let grads = rule(g)
            precondition(grads.count == node.inputs.count, "backward rule returned \(grads.count) gradients for \(node.inputs.count) inputs")
            for (input, gi) in zip(node.inputs, grads) {
                guard input.requiresGrad, let gi else { continue }
                precondition(gi.shape == input.shape, "gradient shape \(gi.shape) does not match input shape \(input.shape)")
                let id = ObjectIdentifier(input)
                pending[id] = pending[id].map { $0.adding(gi) } ?? gi
            }
            node.backward = nil
            t.node = nil
        }
    }

    /// Plain elementwise sum of two same-shape tensors, outside the graph (gradient accumulation).
    func adding(_ other: Tensor) -> Tensor {
        precondition(shape == other.shape)
        let out = Tensor(uninitialized: shape)
        let a = data, b = other.data, o = out.data
        parallelFor(count, grain: 1 << 15) { r in
            for i in r { o[i] = a[i] + b[i] }
        }
        return out
    }
}
