// NVIDIA's StyleGAN1 network pickles (karras2019stylegan-*.pkl, NVlabs/stylegan at 66813a3): a
// tuple (G, D, Gs) of dnnlib.tflib.network.Network records whose state lists each network's own
// variables as (name, numpy array), with G_style's mapping and synthesis as components. Our
// networks are NVlabs' own, so the mapping is names and layouts only: TF's HWIO convolutions and
// [in, out] dense weights to OIHW / [out, in], stored unscaled as NVIDIA stores them.
import Foundation

enum NVIDIAPickle {
    static let networkClass = "dnnlib.tflib.network.Network"

    static var policy: Pickle.Policy {
        Pickle.Policy(recordClasses: NumPy.pickleRecords.union([networkClass, "dnnlib.util.EasyDict"]),
                      valueGlobals: NumPy.pickleValues)
    }

    /// One Network's fields.
    struct Network {
        var name: String
        var function: String
        var staticKwargs: [String: PickleValue]
        var components: [String: Network]
        var variables: [String: Tensor]
    }

    static func read(_ path: String, resolution asked: Int?) throws -> ImportedNetworks {
        let pickle = try Pickle(try mappedFile(path) { .importing("\(path): \($0)") }, policy: policy, what: path)
        let nets = try (pickle.tuple(pickle.root) ?? [pickle.root]).map { try network($0, pickle, path: path, depth: 0) }
        let generators = nets.filter { $0.function == "G_style" }
        guard let gs = generators.last else {
            throw StyleGANError.importing("\(path): no G_style network (found \(nets.map(\.function))); only StyleGAN1 pickles are supported")
        }
        let d = nets.first { $0.function == "D_basic" }
        let g = generators.count >= 2 ? generators.first : nil
        return try map(gs: gs, g: g, d: d, resolution: asked, source: path)
    }

    static func network(_ v: PickleValue, _ p: Pickle, path: String, depth: Int) throws -> Network {
        guard depth < 4, let obj = p.object(v), obj.type == networkClass, let state = obj.state.flatMap({ p.stringDict($0) }) else {
            throw StyleGANError.importing("\(path): expected a \(networkClass) (a tuple G, D, Gs of them), found \(p.kind(v))")
        }
        guard case .int(let version)? = state["version"], (2...4).contains(version) else {
            throw StyleGANError.importing("\(path): unsupported dnnlib Network state version")
        }
        var net = Network(name: "", function: "", staticKwargs: [:], components: [:], variables: [:])
        if case .string(let s)? = state["name"] { net.name = s }
        if case .string(let s)? = state["build_func_name"] { net.function = s }
        net.staticKwargs = state["static_kwargs"].flatMap { p.stringDict($0) } ?? [:]
        for (k, c) in state["components"].flatMap({ p.stringDict($0) }) ?? [:] {
            net.components[k] = try network(c, p, path: path, depth: depth + 1)
        }
        guard let vars = state["variables"].flatMap({ p.list($0) }) else { throw StyleGANError.importing("\(path): network '\(net.name)' has no variables list") }
        for item in vars {
            guard let pair = p.tuple(item), pair.count == 2, case .string(let name) = pair[0] else {
                throw StyleGANError.importing("\(path): network '\(net.name)': a variable is not a (name, array) pair")
            }
            if name == "lod" { continue }  // a scalar schedule variable; lod 0 is the full network
            net.variables[name] = try p.ndarray(pair[1], what: "\(path): variable '\(net.name)/\(name)'")
        }
        return net
    }

    static func map(gs: Network, g: Network?, d: Network?, resolution asked: Int?, source: String) throws -> ImportedNetworks {
        guard let mapping = gs.components["mapping"], let synthesis = gs.components["synthesis"] else {
            throw StyleGANError.importing("\(source): G_style without mapping and synthesis components")
        }
        func v(_ net: Network, _ name: String, _ rank: Int) throws -> Tensor {
            guard let t = net.variables[name] else { throw StyleGANError.importing("\(source): '\(net.name)' has no variable '\(name)'") }
            guard t.rank == rank else { throw StyleGANError.importing("\(source): '\(net.name)/\(name)' has shape \(t.shape)") }
            return t
        }
        // Shapes: the top resolution from the ToRGB layers, channels per resolution.
        let lods = synthesis.variables.keys.compactMap { k -> Int? in
            k.hasPrefix("ToRGB_lod") && k.hasSuffix("/weight") ? Int(k.dropFirst(9).dropLast(7)) : nil
        }
        guard let maxLod = lods.max(), lods.count == maxLod + 1 else { throw StyleGANError.importing("\(source): no ToRGB_lodN layers in G_synthesis") }
        let full = 4 << maxLod
        let r = try ImportedNetworks.resolution(asked: asked, available: full, source: source)
        var channels: [Int: Int] = [4: try v(synthesis, "4x4/Const/const", 4).shape[1]]
        var res = 8
        while res <= r {
            channels[res] = try v(synthesis, "\(res)x\(res)/Conv1/weight", 4).shape[3]
            res *= 2
        }
        guard let layout = ImportedNetworks.channelLayout(channels) else {
            throw StyleGANError.importing("\(source): channel counts \(channels.sorted { $0.key < $1.key }.map(\.value)) do not follow StyleGAN's layout")
        }
        let denses = mapping.variables.keys.filter { $0.hasPrefix("Dense") && $0.hasSuffix("/weight") }.count
        let w0 = try v(mapping, "Dense0/weight", 2), wLast = try v(mapping, "Dense\(denses - 1)/weight", 2)
        var config = Config.paper1024
        config.name = "nvidia-\(r)"
        (config.resolution, config.zDim, config.wDim, config.mappingLayers) = (r, w0.shape[0], wLast.shape[1], denses)
        (config.fmapBase, config.fmapMax, config.fmapMin) = (layout.base, layout.max, 1)
        if case .float(let m)? = mapping.staticKwargs["mapping_lrmul"] { config.mappingLRMul = Float(m) }
        config.learningRateByResolution = config.learningRateByResolution?.filter { $0.key <= r }
        var out = ImportedNetworks(config: config, source: source)

        let hwio = [3, 2, 0, 1]  // [kh, kw, in, out] -> [out, in, kh, kw]
        /// A TF layer's weight (HWIO or [in, out], to our layout) and bias as our `<ours>.weight` / `.bias`.
        func weightAndBias(_ net: Network, _ scope: String, _ rank: Int, as ours: String) throws {
            out.tensors[ours + ".weight"] = try v(net, scope + "/weight", rank).permuted(rank == 4 ? hwio : [1, 0])
            out.tensors[ours + ".bias"] = try v(net, scope + "/bias", 1)
        }
        func generator(_ top: Network, prefix: String) throws {
            guard let m = top.components["mapping"], let s = top.components["synthesis"] else {
                throw StyleGANError.importing("\(source): '\(top.name)' has no mapping / synthesis")
            }
            for i in 0..<denses { try weightAndBias(m, "Dense\(i)", 2, as: "\(prefix)mapping.fc\(i)") }
            out.tensors["\(prefix)synthesis.const"] = try v(s, "4x4/Const/const", 4)
            for layer in 0..<Config.layerCount(at: r) {
                let res = 4 << (layer / 2)
                let scope = res == 4 ? (layer == 0 ? "4x4/Const" : "4x4/Conv") : "\(res)x\(res)/" + (layer % 2 == 0 ? "Conv0_up" : "Conv1")
                let l = "\(prefix)synthesis.layer\(layer)."
                if layer > 0 { out.tensors[l + "conv.weight"] = try v(s, scope + "/weight", 4).permuted(hwio) }
                out.tensors[l + "noise_strength"] = try v(s, scope + "/Noise/weight", 1)
                out.tensors[l + "bias"] = try v(s, scope + "/bias", 1)
                try weightAndBias(s, scope + "/StyleMod", 2, as: l + "style")
                out.tensors["\(prefix)synthesis.noise_const\(layer)"] = try v(s, "noise\(layer)", 4)
            }
            for res in config.resolutions {
                try weightAndBias(s, "ToRGB_lod\(log2(full) - log2(res))", 4, as: "\(prefix)synthesis.torgb\(res)")
            }
            out.tensors["\(prefix)w_avg"] = try v(top, "dlatent_avg", 1)
        }
        try generator(gs, prefix: "G_ema.")
        guard let g, let d else { return out }
        try generator(g, prefix: "G.")
        for res in config.resolutions {
            try weightAndBias(d, "FromRGB_lod\(log2(full) - log2(res))", 4, as: "D.fromrgb\(res)")
            guard res > 4 else { continue }
            for (ours, theirs) in [("conv0", "Conv0"), ("conv1", "Conv1_down")] {
                try weightAndBias(d, "\(res)x\(res)/\(theirs)", 4, as: "D.block\(res).\(ours)")
            }
        }
        try weightAndBias(d, "4x4/Conv", 4, as: "D.block4.conv")
        for i in 0..<2 { try weightAndBias(d, "4x4/Dense\(i)", 2, as: "D.block4.fc\(i)") }
        if let group = d.staticKwargs["mbstd_group_size"], case .int(let n) = group { out.config.mbstdGroupSize = max(1, n) }
        return out
    }
}
