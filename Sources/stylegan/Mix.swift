// `stylegan mix --network FILE --rows 1,2,3 --cols 4,5 --outdir OUT [--styles coarse|middle|fine|0-3]`
import ArgumentParser
import Inference
import StyleGAN

struct Mix: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Style-mixing figure: row seeds restyled by column seeds (grid.png + one PNG per cell).")

    @Option(help: "Checkpoint file (.safetensors).") var network: String
    @Option(help: "Row seeds (their images are restyled).") var rows: String
    @Option(help: "Column seeds (their styles are taken).") var cols: String
    @Option(help: "Layers taken from the column seed: coarse (4-8 px), middle (16-32 px), fine (64 px and up) or indices like 0-3.") var styles = "coarse"
    @Option(help: "Output folder (created if missing).") var outdir: String
    @Option(help: "Truncation psi (none unless given).") var trunc: Float?
    @Option(help: "Noise: const (default, as the paper's figure), random or none.") var noise: NoiseMode = .const
    @Option(name: .customLong("class"), help: "The class a conditional network makes (0 to classes - 1; required for one).") var classLabel: Int?
    @Option(help: "A projected w (projected_w.npy) as the first row.") var rowW: String?
    @Option(help: "A projected w (projected_w.npy) as the first column.") var colW: String?

    func run() throws {
        let (rowSeeds, colSeeds) = (try parseSeeds(rows), try parseSeeds(cols))
        let synth = try Synthesizer.load(network).conditioned(on: classLabel)
        let rowKeys = try (rowW.map { [LatentKey.styles(try synth.styles(wFile: $0), name: "w")] } ?? []) + rowSeeds.map(LatentKey.seed)
        let colKeys = try (colW.map { [LatentKey.styles(try synth.styles(wFile: $0), name: "w")] } ?? []) + colSeeds.map(LatentKey.seed)
        let layers = try StyleLayers(parsing: styles)
        let truncation = try trunc.map { try Truncation(psi: $0) }
        if try layers.layers(layerCount: synth.layerCount).isEmpty {
            throw ValidationError("--styles \(styles) selects no layers of a \(synth.resolution)x\(synth.resolution) network")
        }
        try makeOutputFolder(outdir)
        let fig = try synth.frozen { synth in try styleMixingFigure(synth, rows: rowKeys, columns: colKeys, styles: layers, truncation: truncation, noise: noise) }
        for c in fig.cells { try c.image.writePNG(outdir + "/" + "mix-row\(c.row)-col\(c.column).png") }
        try fig.grid.writePNG(outdir + "/grid.png")
        print("wrote grid.png and \(fig.cells.count) cells to \(outdir)")
    }
}
