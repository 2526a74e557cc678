// rosinality/style-based-gan-pytorch checkpoints (model.py at 07fa60b): train.py's dict of
// `generator`, `discriminator`, `g_running` (the EMA generator) and optimiser states, or a bare
// StyledGenerator state dict. Its equalised lr scales every weight by sqrt(2 / fan_in) (also
// toRGB, the style affines, the noise strengths and D's last linear, where NVlabs uses gain 1),
// keeps the mapping's 0.01 lr multiplier in the optimiser only, writes AdaIN as gamma * x + beta
// with gamma's bias initialised to 1, and divides its fused kernels' shifted sum by 4. All of
// these are exact reparametrisations of our layers; what is not (bias before the blur, InstanceNorm's
// 1e-5, one noise map per resolution, D's block layout and whole-batch stddev) is a config variant.
import Foundation

enum Rosinality {
    static let blocks = 9  // the port always builds 4 to 1024 px

    static func read(_ file: TorchFile, resolution asked: Int?) throws -> ImportedNetworks {
        let source = file.path
        // A training checkpoint, or a bare generator state dict.
        var g: [String: Tensor], ema: [String: Tensor], d: [String: Tensor]?
        if let top = file.pickle.stringDict(file.root), let running = top["g_running"] ?? top["generator"] {
            ema = try file.stateDict(running, what: "g_running")
            g = try top["generator"].map { try file.stateDict($0, what: "generator") } ?? ema
            d = try top["discriminator"].map { try file.stateDict($0, what: "discriminator") }
        } else {
            ema = try file.stateDict(file.root, what: "the file's root")
            g = ema
            d = nil
        }
        // DataParallel prefixes every name with "module.".
        func strip(_ sd: [String: Tensor]) -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: sd.map { ($0.key.hasPrefix("module.") ? String($0.key.dropFirst(7)) : $0.key, $0.value) })
        }
        (g, ema, d) = (strip(g), strip(ema), d.map(strip))
        guard ema["generator.progression.0.conv1.input"] != nil else {
            throw StyleGANError.importing("\(source): a torch file, but not a rosinality StyledGenerator (no 'generator.progression.0.conv1.input')")
        }

        func tensor(_ sd: [String: Tensor], _ name: String, _ shape: [Int]? = nil) throws -> Tensor {
            guard let t = sd[name] else { throw StyleGANError.importing("\(source): missing '\(name)'") }
            if let shape, t.shape != shape { throw StyleGANError.importing("\(source): '\(name)' has shape \(t.shape), expected \(shape)") }
            return t
        }
        // Shapes: channels per resolution, style and latent sizes, mapping depth.
        var channels: [Int: Int] = [:]
        for i in 0..<blocks {
            guard let n = ema["generator.progression.\(i).noise1.weight_orig"] else { break }
            channels[4 << i] = n.shape[1]
        }
        let mappingKeys = ema.keys.filter { $0.hasPrefix("style.") && $0.hasSuffix(".linear.weight_orig") }
        let mappingIndices = mappingKeys.compactMap { Int($0.split(separator: ".")[1]) }.sorted()
        guard let first = mappingIndices.first, let w0 = ema["style.\(first).linear.weight_orig"], w0.rank == 2 else {
            throw StyleGANError.importing("\(source): no mapping network ('style.N.linear.weight_orig')")
        }
        let (wDim, zDim) = (w0.shape[0], w0.shape[1])
        let available = 4 << (channels.count - 1)
        let r = try ImportedNetworks.resolution(asked: asked ?? resolutionFromName(source), available: available, source: source)
        guard asked != nil || resolutionFromName(source) != nil else {
            throw StyleGANError.importing("\(source): rosinality checkpoints do not record the resolution they were trained to; give --resolution (e.g. 256 for train_step-7.model or stylegan-256px-new.model)")
        }
        let used = channels.filter { $0.key <= r }
        guard let layout = ImportedNetworks.channelLayout(used) else {
            throw StyleGANError.importing("\(source): channel counts \(used.sorted { $0.key < $1.key }.map(\.value)) do not follow StyleGAN's layout")
        }
        var config = Config.paper256
        config.name = "rosinality-\(r)"
        (config.resolution, config.zDim, config.wDim, config.mappingLayers) = (r, zDim, wDim, mappingIndices.count)
        (config.fmapBase, config.fmapMax, config.fmapMin) = (layout.base, layout.max, 1)
        config.learningRateByResolution = nil
        config.instanceNormEpsilon = 1e-5
        config.biasBeforeBlur = true
        config.noisePerResolution = true
        config.dChannelsChangeFirst = true
        config.mbstdWholeBatch = true

        var out = ImportedNetworks(config: config, source: source)
        out.estimateWAvg = true
        let sqrt2 = Float(2).squareRoot()
        func generator(_ sd: [String: Tensor], prefix: String) throws {
            for (k, idx) in mappingIndices.enumerated() {
                let p = "style.\(idx).linear."
                // Our stored weight carries the 0.01 lr multiplier (so Adam's steps match the port's
                // 0.01 learning rate on these layers).
                out.tensors["\(prefix)mapping.fc\(k).weight"] = try tensor(sd, p + "weight_orig").scaled(1 / config.mappingLRMul)
                out.tensors["\(prefix)mapping.fc\(k).bias"] = try tensor(sd, p + "bias").scaled(1 / config.mappingLRMul)
            }
            for i in 0..<(log2(r) - 1) {
                let res = 4 << i, c = channels[res]!, p = "generator.progression.\(i)."
                let (l0, l1) = ("\(prefix)synthesis.layer\(2 * i).", "\(prefix)synthesis.layer\(2 * i + 1).")
                if i == 0 {
                    out.tensors["\(prefix)synthesis.const"] = try tensor(sd, p + "conv1.input", [1, c, 4, 4])
                    out.tensors[l0 + "bias"] = Tensor(zeros: [c])
                } else if res >= config.fusedScaleFrom {
                    // FusedUpsample: (in, out, 3, 3), transposed conv of the shifted sum / 4.
                    out.tensors[l0 + "conv.weight"] = try tensor(sd, p + "conv1.0.weight", [channels[res / 2]!, c, 3, 3]).transposed01().scaled(0.25)
                    out.tensors[l0 + "bias"] = try tensor(sd, p + "conv1.0.bias", [c])
                } else {
                    out.tensors[l0 + "conv.weight"] = try tensor(sd, p + "conv1.1.conv.weight_orig", [c, channels[res / 2]!, 3, 3])
                    out.tensors[l0 + "bias"] = try tensor(sd, p + "conv1.1.conv.bias", [c])
                }
                out.tensors[l1 + "conv.weight"] = try tensor(sd, p + "conv2.conv.weight_orig", [c, c, 3, 3])
                out.tensors[l1 + "bias"] = try tensor(sd, p + "conv2.conv.bias", [c])
                for (l, j) in [(l0, 1), (l1, 2)] {
                    out.tensors[l + "noise_strength"] = try tensor(sd, p + "noise\(j).weight_orig", [1, c, 1, 1])
                        .reshaped([c]).scaled((2 / Float(c)).squareRoot())
                    out.tensors[l + "style.weight"] = try tensor(sd, p + "adain\(j).style.linear.weight_orig", [2 * c, wDim]).scaled(sqrt2)
                    let b = try tensor(sd, p + "adain\(j).style.linear.bias", [2 * c]).copy()
                    for ch in 0..<c { b.data[ch] -= 1 }  // gamma = 1 + y_s
                    out.tensors[l + "style.bias"] = b
                }
                out.tensors["\(prefix)synthesis.torgb\(res).weight"] = try tensor(sd, "generator.to_rgb.\(i).conv.weight_orig", [3, c, 1, 1]).scaled(sqrt2)
                out.tensors["\(prefix)synthesis.torgb\(res).bias"] = try tensor(sd, "generator.to_rgb.\(i).conv.bias", [3])
            }
        }
        try generator(ema, prefix: "G_ema.")
        guard let d else { return out }
        try generator(g, prefix: "G.")

        // D: progression[j] reads resolution 4 << (8 - j); j = 8 is the 4x4 epilogue.
        let linearStem = d["from_rgb.0.conv.weight_orig"] != nil
        out.config.dLinearFromRGB = linearStem ? true : nil
        for j in 0..<blocks {
            let res = 4 << (blocks - 1 - j)
            guard res <= r else { continue }
            let c = channels[res]!
            let stem = linearStem ? "from_rgb.\(j).conv." : "from_rgb.\(j).0.conv."
            out.tensors["D.fromrgb\(res).weight"] = try tensor(d, stem + "weight_orig", [c, 3, 1, 1])
            out.tensors["D.fromrgb\(res).bias"] = try tensor(d, stem + "bias", [c])
            let p = "progression.\(j)."
            if res == 4 {
                let c0 = channels[4]!
                out.tensors["D.block4.conv.weight"] = try tensor(d, p + "conv1.0.conv.weight_orig", [c, c + 1, 3, 3])
                out.tensors["D.block4.conv.bias"] = try tensor(d, p + "conv1.0.conv.bias", [c])
                out.tensors["D.block4.fc0.weight"] = try tensor(d, p + "conv2.0.conv.weight_orig", [c0, c, 4, 4]).reshaped([c0, c * 16])
                out.tensors["D.block4.fc0.bias"] = try tensor(d, p + "conv2.0.conv.bias", [c0])
                out.tensors["D.block4.fc1.weight"] = try tensor(d, "linear.linear.weight_orig", [1, c0]).scaled(sqrt2)
                out.tensors["D.block4.fc1.bias"] = try tensor(d, "linear.linear.bias", [1])
                continue
            }
            let cout = channels[res / 2]!
            out.tensors["D.block\(res).conv0.weight"] = try tensor(d, p + "conv1.0.conv.weight_orig", [cout, c, 3, 3])
            out.tensors["D.block\(res).conv0.bias"] = try tensor(d, p + "conv1.0.conv.bias", [cout])
            let down = res >= config.fusedScaleFrom ? p + "conv2.1." : p + "conv2.1.conv."
            out.tensors["D.block\(res).conv1.weight"] = try tensor(d, down + (res >= config.fusedScaleFrom ? "weight" : "weight_orig"), [cout, cout, 3, 3])
            out.tensors["D.block\(res).conv1.bias"] = try tensor(d, down + "bias", [cout])
        }
        return out
    }

    /// "stylegan-256px-new.model" -> 256; "train_step-7.model" -> 256 (trained at step 6... its
    /// step counter runs one ahead: train.py saves train_step-N after finishing step N - 1).
    static func resolutionFromName(_ path: String) -> Int? {
        let name = URL(fileURLWithPath: path).lastPathComponent
        if let r = name.range(of: #"[0-9]+px"#, options: .regularExpression), let v = Int(name[r].dropLast(2)), v >= 4, v & (v - 1) == 0 { return v }
        if let r = name.range(of: #"train_step-[0-9]+"#, options: .regularExpression), let s = Int(name[r].dropFirst(11)), (1...9).contains(s) {
            return 4 << (s - 1)
        }
        return nil
    }
}
