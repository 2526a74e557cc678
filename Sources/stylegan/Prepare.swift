// `stylegan prepare --source DIR --dest DATA [--resolution 256] [--mirror] [--force] [--labels subfolders|FILE]`: builds the
// dataset cache from a folder of PNG/JPEG images (the work is in Training/Prepare.swift).
import ArgumentParser
import StyleGAN
import Training

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a dataset cache (one uint8 file per resolution) from a folder of PNG/JPEG images.")

    @Option(help: "Folder of images, searched recursively; files that are not PNG/JPEG are listed and skipped.") var source: String
    @Option(help: "Output folder (must not exist, or be empty).") var dest: String
    @Option(help: "Final resolution: a power of two from 4 to 1024.") var resolution: Int = 256
    @Flag(help: "Record that training should add x-flipped images (flips are applied at train time).") var mirror = false
    @Flag(help: "Replace an existing prepared dataset at --dest, once the new one is complete.") var force = false
    @Option(help: ArgumentHelp("Store class labels for conditional training: 'subfolders' (one class per subfolder of --source) or a dataset.json ({\"labels\": [[\"dir/img.png\", 0], ...]}, as NVIDIA's dataset tool).", valueName: "subfolders|FILE"))
    var labels: String?

    func validate() throws {
        guard DatasetManifest.isValidResolution(resolution) else {
            throw ValidationError("--resolution \(resolution) is not a power of two in 4...1024")
        }
    }

    func run() throws {
        let preparer = try DatasetPreparer(source: source, dest: dest, resolution: resolution, mirror: mirror,
                                           force: force, showProgress: true, labels: labels.map(DatasetPreparer.LabelSource.init(parsing:)))
        let result = try preparer.run()
        let m = result.manifest
        print("prepared \(m.count) images at \(m.resolutions.map(String.init).joined(separator: ", ")) px into \(dest) "
            + "in \(String(format: "%.1f", result.seconds)) s")
        if let names = m.classNames, let l = m.labels {
            var counts = [Int](repeating: 0, count: names.count)
            for k in l { counts[k] += 1 }
            print("\(names.count) classes: " + zip(names, counts).map { "\($0) (\($1))" }.joined(separator: ", "))
        }
        if !m.skipped.isEmpty {
            print("skipped \(m.skipped.count) file\(m.skipped.count == 1 ? "" : "s"):")
            for s in m.skipped { print("  \(s.path): \(s.reason)") }
        }
    }
}
