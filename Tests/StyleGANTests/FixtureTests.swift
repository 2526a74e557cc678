// Every op against PyTorch (Tests/reference/make_fixtures.py): the output, the gradient of
// sum(out * gy) for every input, and for the discriminator's ops the gradient of the squared
// gradient norm (R1's second derivative, PyTorch's create_graph=True).
import CKernels
import Foundation
import Testing
@testable import StyleGAN

struct OpCase {
    let file: SafetensorsFile
    let name: String
    let op: String
    let params: [String: Any]
    let rtol: Float, atol: Float

    init(_ name: String) throws {
        file = try loadFixture(name)
        self.name = name
        op = file.metadata["op"] ?? ""
        params = (try? JSONSerialization.jsonObject(with: Data((file.metadata["params"] ?? "{}").utf8))) as? [String: Any] ?? [:]
        let tol = (try? JSONSerialization.jsonObject(with: Data((file.metadata["tol"] ?? "{}").utf8))) as? [String: Any] ?? [:]
        rtol = (tol["rtol"] as? NSNumber)?.floatValue ?? 1e-4
        atol = (tol["atol"] as? NSNumber)?.floatValue ?? 1e-5
    }

    func int(_ key: String) -> Int { (params[key] as? NSNumber)?.intValue ?? 0 }
    func float(_ key: String) -> Float { (params[key] as? NSNumber)?.floatValue ?? 0 }

    /// Input names (in.*) without constant filters, in file order.
    var inputNames: [String] {
        file.names.filter { $0.hasPrefix("in.") && $0 != "in.f" }.map { String($0.dropFirst(3)) }
    }

    /// Fresh leaf copies of the inputs that require grad.
    func leaves() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in inputNames {
            let t = file.tensors["in." + n]!.copy()
            t.requiresGrad = true
            out[n] = t
        }
        return out
    }

    /// Our op applied to the inputs, dispatched on the fixture's op name.
    func apply(_ v: [String: Tensor]) -> Tensor {
        switch op {
        case "conv2d": return conv2d(v["x"]!, v["w"]!, stride: int("stride"), padding: int("pad"))
        case "conv_transpose2d":
            return convTranspose2d(v["x"]!, v["w"]!, stride: int("stride"), padding: int("pad"), outputPadding: int("output_padding"))
        case "linear": return matmul(v["x"]!, v["w"]!, transposeB: true)
        case "bias_lrelu": return v["x"]!.biasLeakyReLU(v["b"]!, slope: float("slope"))
        case "upfirdn2d":
            let f = file.tensors["in.f"]!
            let p = (params["pad"] as! [NSNumber]).map(\.intValue)
            return upfirdn2d(v["x"]!, filter: FIRFilter(f.scalars, height: f.shape[0], width: f.shape[1]),
                             up: int("up"), down: int("down"), padding: Padding2D(x0: p[0], x1: p[1], y0: p[2], y1: p[3]))
        case "instance_norm": return v["x"]!.instanceNorm()
        case "adain": return v["x"]!.adaIN(scale: v["ys"]!, bias: v["yb"]!)
        case "pixel_norm": return v["x"]!.pixelNorm()
        case "mbstd": return minibatchStdDev(v["x"]!, groupSize: int("group"))
        case "add": return v["a"]! + v["b"]!
        case "sub": return v["a"]! - v["b"]!
        case "mul": return v["a"]! * v["b"]!
        case "div": return v["a"]! / v["b"]!
        case "exp": return v["x"]!.exp()
        case "log": return v["x"]!.log()
        case "sqrt": return v["x"]!.sqrt()
        case "rsqrt": return v["x"]!.rsqrt()
        case "softplus": return v["x"]!.softplus()
        case "sigmoid": return v["x"]!.sigmoid()
        case "relu": return v["x"]!.relu()
        case "square": return v["x"]!.square()
        case "neg": return -v["x"]!
        case "sum": return v["x"]!.sum(axes: (params["axes"] as! [NSNumber]).map(\.intValue))
        case "mean": return v["x"]!.mean(axes: (params["axes"] as! [NSNumber]).map(\.intValue))
        case "d_chain": return dChain(v)
        default: fatalError("fixture \(name): unknown op \(op)")
        }
    }

    /// The discriminator-like chain of the fixture: conv, bias+lrelu, blur, conv, box down,
    /// bias+lrelu, minibatch stddev, dense.
    func dChain(_ v: [String: Tensor]) -> Tensor {
        var h = conv2d(v["x"]!, v["w1"]! * float("s1"), padding: 1).biasLeakyReLU(v["b1"]!)
        h = h.blurred()
        h = conv2d(h, v["w2"]! * float("s2"), padding: 1).downsampled2x().biasLeakyReLU(v["b2"]!)
        h = minibatchStdDev(h, groupSize: int("group"))
        return matmul(h.reshaped([h.shape[0], -1]), v["w3"]! * float("s3"), transposeB: true)
    }
}

let gradientCases = [
    "conv2d_3x3_s1_p1", "conv2d_3x3_s2_p1_b1", "conv2d_1x1", "conv2d_4x4_s2_p1", "conv_transpose2d_4x4_s2_p1",
    "linear", "linear_b1", "bias_lrelu_4d", "bias_lrelu_2d",
    "blur121", "blur1331_up2", "blur1331_down2", "nearest_up2", "box_down2",
    "instance_norm", "adain", "pixel_norm_2d", "pixel_norm_4d", "mbstd_g4", "mbstd_g4_n8", "mbstd_g2",
    "add_bcast", "sub_bcast", "mul_bcast", "div_bcast",
    "exp", "log", "sqrt", "rsqrt", "softplus", "sigmoid", "relu", "square", "neg",
    "sum_axes_0_2_3", "sum_all", "mean_axis1", "d_chain",
]

@Suite("Ops against PyTorch fixtures")
struct FixtureTests {
    @Test("forward and first derivatives", arguments: gradientCases)
    func firstOrder(_ name: String) throws {
        let c = try OpCase(name)
        print("\(name) (\(c.op)):")
        let v = c.leaves()
        let out = c.apply(v)
        expectClose(out, try c.file.tensor("out"), rtol: c.rtol, atol: c.atol, "out")
        let names = c.inputNames
        let grads = gradients(of: [out], wrt: names.map { v[$0]! }, gradOutputs: [try c.file.tensor("gy")])
        for (n, g) in zip(names, grads) {
            expectClose(g, try c.file.tensor("grad." + n), rtol: c.rtol, atol: c.atol, "grad.\(n)")
        }
    }

    @Test("second derivatives (gradient of a gradient norm)",
          arguments: gradientCases.filter { (try? loadFixture($0))?.tensors.keys.contains { $0.hasPrefix("grad2.") } ?? false })
    func secondOrder(_ name: String) throws {
        let c = try OpCase(name)
        print("\(name) (\(c.op)), second order:")
        let v = c.leaves()
        let names = c.inputNames
        let first = names.contains("x") ? "x" : "a"
        let out = c.apply(v)
        let g = gradients(of: [out], wrt: [v[first]!], gradOutputs: [try c.file.tensor("gy")], createGraph: true)[0]
        let r = g.square().sum()
        let grads2 = gradients(of: [r], wrt: names.map { v[$0]! })
        for (n, g2) in zip(names, grads2) {
            expectClose(g2, try c.file.tensor("grad2." + n), rtol: c.rtol, atol: c.atol, "grad2.\(n)")
        }
    }

    @Test("fused Adam step against torch.optim.Adam", arguments: ["adam", "adam_b09"])
    func adam(_ name: String) throws {
        let c = try OpCase(name)
        let betas = (c.params["betas"] as! [NSNumber]).map(\.floatValue)
        let p = try c.file.tensor("in.p").copy()
        let m = Tensor(zeros: p.shape), v = Tensor(zeros: p.shape)
        print("\(name):")
        for step in 1...3 {
            let g = try c.file.tensor("in.g\(step)")
            adam_update(p.data, m.data, v.data, g.data, p.count, c.float("lr"), betas[0], betas[1], c.float("eps"), step)
            expectClose(p, try c.file.tensor("out.p\(step)"), rtol: c.rtol, atol: c.atol, "p after step \(step)")
        }
        expectClose(m, try c.file.tensor("out.m3"), rtol: c.rtol, atol: c.atol, "m after step 3")
        expectClose(v, try c.file.tensor("out.v3"), rtol: c.rtol, atol: c.atol, "v after step 3")
    }
}
